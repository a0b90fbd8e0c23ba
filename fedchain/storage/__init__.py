"""Content-addressed storage: IPFS CIDs computed in-package, blob stores, the tensor codec.

Knows neither the chain nor torch (numpy, safetensors, httpx and the stdlib only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedchain.lazy import lazy_exports

if TYPE_CHECKING:
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

# Public name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS: dict[str, str] = {
    "DEFAULT_MAX_BLOB_BYTES": "fedchain.storage.base",
    "BlobStore": "fedchain.storage.base",
    "DEFAULT_IMPORT": "fedchain.storage.cid",
    "KNOWN_PROFILES": "fedchain.storage.cid",
    "ImportParams": "fedchain.storage.cid",
    "compute_cid": "fedchain.storage.cid",
    "compute_cid_file": "fedchain.storage.cid",
    "compute_directory_cid": "fedchain.storage.cid",
    "verify_cid": "fedchain.storage.cid",
    "verify_cid_file": "fedchain.storage.cid",
    "DEFAULT_MAX_MODEL_BYTES": "fedchain.storage.codec",
    "ModelMetadata": "fedchain.storage.codec",
    "decode_model": "fedchain.storage.codec",
    "encode_model": "fedchain.storage.codec",
    "BlobNotFoundError": "fedchain.storage.errors",
    "BlobTooLargeError": "fedchain.storage.errors",
    "CIDMismatchError": "fedchain.storage.errors",
    "CIDParameterError": "fedchain.storage.errors",
    "CodecError": "fedchain.storage.errors",
    "CorruptBlobError": "fedchain.storage.errors",
    "DtypeMismatchError": "fedchain.storage.errors",
    "IntegrityError": "fedchain.storage.errors",
    "InvalidCIDError": "fedchain.storage.errors",
    "KuboAPIError": "fedchain.storage.errors",
    "KuboError": "fedchain.storage.errors",
    "KuboTimeoutError": "fedchain.storage.errors",
    "KuboUnavailableError": "fedchain.storage.errors",
    "MalformedBlobError": "fedchain.storage.errors",
    "MetadataError": "fedchain.storage.errors",
    "NonFiniteError": "fedchain.storage.errors",
    "OutputExistsError": "fedchain.storage.errors",
    "ShapeMismatchError": "fedchain.storage.errors",
    "StorageError": "fedchain.storage.errors",
    "StoreConfigError": "fedchain.storage.errors",
    "TensorSetMismatchError": "fedchain.storage.errors",
    "DEFAULT_KUBO_API": "fedchain.storage.kubo",
    "KuboStore": "fedchain.storage.kubo",
    "LocalStore": "fedchain.storage.local",
    "CID": "fedchain.storage.multiformats",
    "CODEC_DAG_PB": "fedchain.storage.multiformats",
    "CODEC_RAW": "fedchain.storage.multiformats",
    "cid_to_digest": "fedchain.storage.multiformats",
    "digest_to_cid": "fedchain.storage.multiformats",
    "parse_cid": "fedchain.storage.multiformats",
    "default_store_spec": "fedchain.storage.registry",
    "open_store": "fedchain.storage.registry",
    "register_store": "fedchain.storage.registry",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
