"""Content-addressed storage: IPFS CIDs computed in-package, blob stores, the tensor codec.

Knows neither the chain nor torch (numpy, safetensors, httpx and the stdlib only).
"""

from __future__ import annotations

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
    ShapeMismatchError,
    StorageError,
    StoreConfigError,
    TensorSetMismatchError,
)
from fedchain.storage.multiformats import (
    CID,
    CODEC_DAG_PB,
    CODEC_RAW,
    cid_to_digest,
    digest_to_cid,
    parse_cid,
)

__all__ = [
    "CID",
    "CODEC_DAG_PB",
    "CODEC_RAW",
    "DEFAULT_IMPORT",
    "KNOWN_PROFILES",
    "BlobNotFoundError",
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
    "KuboTimeoutError",
    "KuboUnavailableError",
    "MalformedBlobError",
    "MetadataError",
    "NonFiniteError",
    "ShapeMismatchError",
    "StorageError",
    "StoreConfigError",
    "TensorSetMismatchError",
    "cid_to_digest",
    "compute_cid",
    "compute_cid_file",
    "compute_directory_cid",
    "digest_to_cid",
    "parse_cid",
    "verify_cid",
    "verify_cid_file",
]
