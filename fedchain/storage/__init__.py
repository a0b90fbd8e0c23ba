"""Content-addressed storage: IPFS CIDs computed in-package, blob stores, the tensor codec.

Knows neither the chain nor torch (numpy, safetensors, httpx and the stdlib only).
"""

from __future__ import annotations

from fedchain.storage.base import DEFAULT_MAX_BLOB_BYTES, BlobStore
from fedchain.storage.cid import (
    DEFAULT_IMPORT,
    KNOWN_PROFILES,
    ImportParams,
    compute_cid,
    compute_cid_file,
    compute_directory_cid,
    verify_cid,
    verify_cid_file,
)
from fedchain.storage.codec import (
    DEFAULT_MAX_MODEL_BYTES,
    ModelMetadata,
    decode_model,
    encode_model,
)
from fedchain.storage.errors import (
    BlobNotFoundError,
    BlobTooLargeError,
    CIDMismatchError,
    CIDParameterError,
    CodecError,
    CorruptBlobError,
    DtypeMismatchError,
    IntegrityError,
    InvalidCIDError,
    KuboAPIError,
    KuboError,
    KuboTimeoutError,
    KuboUnavailableError,
    MalformedBlobError,
    MetadataError,
    NonFiniteError,
    OutputExistsError,
    ShapeMismatchError,
    StorageError,
    StoreConfigError,
    TensorSetMismatchError,
)
from fedchain.storage.kubo import DEFAULT_KUBO_API, KuboStore
from fedchain.storage.local import LocalStore
from fedchain.storage.multiformats import (
    CID,
    CODEC_DAG_PB,
    CODEC_RAW,
    cid_to_digest,
    digest_to_cid,
    parse_cid,
)
from fedchain.storage.registry import default_store_spec, open_store, register_store

__all__ = [
    "CID",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "DEFAULT_IMPORT",
    "DEFAULT_KUBO_API",
    "DEFAULT_MAX_BLOB_BYTES",
    "DEFAULT_MAX_MODEL_BYTES",
    "KNOWN_PROFILES",
    "BlobNotFoundError",
    "BlobStore",
    "BlobTooLargeError",
    "CIDMismatchError",
    "CIDParameterError",
    "CodecError",
    "CorruptBlobError",
    "DtypeMismatchError",
    "ImportParams",
    "IntegrityError",
    "InvalidCIDError",
    "KuboAPIError",
    "KuboError",
    "KuboStore",
    "KuboTimeoutError",
    "KuboUnavailableError",
    "LocalStore",
    "MalformedBlobError",
    "MetadataError",
    "ModelMetadata",
    "NonFiniteError",
    "OutputExistsError",
    "ShapeMismatchError",
    "StorageError",
    "StoreConfigError",
    "TensorSetMismatchError",
    "cid_to_digest",
    "compute_cid",
    "compute_cid_file",
    "compute_directory_cid",
    "decode_model",
    "default_store_spec",
    "digest_to_cid",
    "encode_model",
    "open_store",
    "parse_cid",
    "register_store",
    "verify_cid",
    "verify_cid_file",
]
