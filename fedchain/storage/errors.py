"""Exceptions of the storage layer: CIDs, blobs, stores and the tensor codec.

Every class derives from :class:`StorageError` (itself a
:class:`~fedchain.errors.FedChainError`) and, where a stdlib type fits, from it too, so
``except ValueError`` / ``except KeyError`` keep working::

    StorageError(FedChainError)
    ├── InvalidCIDError(ValueError)          not a CID we can read: base, varints, multihash, codec
    ├── CIDParameterError(ValueError)        unsupported import parameters (chunker, hash, layout)
    ├── BlobNotFoundError(KeyError)          the store does not hold that CID
    ├── BlobTooLargeError(ValueError)        a blob is over the configured size limit
    ├── OutputExistsError(FileExistsError)   refusing to overwrite an existing output file
    ├── IntegrityError                       bytes and CID disagree
    │   ├── CorruptBlobError                 bytes read back do not hash to the requested CID
    │   └── CIDMismatchError                 a node returned another CID than the one we computed
    ├── StoreConfigError(ValueError)         an unknown store spec or a bad store option
    ├── KuboError                            talking to a Kubo daemon over its RPC API
    │   ├── KuboUnavailableError(ConnectionError)  unreachable after the retries
    │   ├── KuboTimeoutError(TimeoutError)          no answer within the timeout
    │   └── KuboAPIError                            Kubo answered with an error
    └── CodecError(ValueError)               a model blob that must not be loaded
        ├── MalformedBlobError               not well-formed safetensors
        ├── DtypeMismatchError               a tensor of the wrong dtype
        ├── TensorSetMismatchError           missing or unexpected tensor names
        ├── ShapeMismatchError               a tensor of the wrong shape
        ├── NonFiniteError                   NaN or infinity in a tensor
        └── MetadataError                    missing or invalid metadata keys
"""

from __future__ import annotations

from fedchain.errors import FedChainError

__all__ = [
    "BlobNotFoundError",
    "BlobTooLargeError",
    "CIDMismatchError",
    "CIDParameterError",
    "CodecError",
    "CorruptBlobError",
    "DtypeMismatchError",
    "IntegrityError",
    "InvalidCIDError",
    "KuboAPIError",
    "KuboError",
    "KuboTimeoutError",
    "KuboUnavailableError",
    "MalformedBlobError",
    "MetadataError",
    "NonFiniteError",
    "OutputExistsError",
    "ShapeMismatchError",
    "StorageError",
    "StoreConfigError",
    "TensorSetMismatchError",
]


class StorageError(FedChainError):
    """Base class of every storage error."""


class InvalidCIDError(StorageError, ValueError):
    """A string or byte string is not a CID this package can read."""


class CIDParameterError(StorageError, ValueError):
    """Import parameters (chunk size, links per node, hash, layout) that are not supported."""


class BlobNotFoundError(StorageError, KeyError):
    """The store holds no blob under that CID."""

    def __init__(self, cid: str, where: str = "") -> None:
        self.cid = cid
        self.where = where
        super().__init__(cid)

    def __str__(self) -> str:  # KeyError would quote the message
        suffix = f" in {self.where}" if self.where else ""
        return f"blob {self.cid} not found{suffix}"


class BlobTooLargeError(StorageError, ValueError):
    """A blob is larger than the size limit in force."""


class OutputExistsError(StorageError, FileExistsError):
    """The output file exists and overwriting it was not asked for."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} exists (pass --force to replace it)")

    def __str__(self) -> str:  # OSError would format its own way
        return str(self.args[0])


class IntegrityError(StorageError):
    """Bytes and the CID that should address them disagree."""


class CorruptBlobError(IntegrityError):
    """Bytes read back from a store do not hash to the requested CID."""

    def __init__(self, cid: str, detail: str = "") -> None:
        self.cid = cid
        message = f"blob {cid} is corrupt: its bytes do not hash to that CID"
        super().__init__(f"{message} ({detail})" if detail else message)


class CIDMismatchError(IntegrityError):
    """A node reported another CID for the bytes we gave it than the one computed here."""

    def __init__(self, expected: str, got: str, where: str = "") -> None:
        self.expected = expected
        self.got = got
        suffix = f" by {where}" if where else ""
        super().__init__(
            f"CID mismatch: computed {expected} locally but was given {got}{suffix}; "
            "the node may use other import settings (chunker, raw leaves, max links) or be faulty"
        )


class StoreConfigError(StorageError, ValueError):
    """An unknown store specification or an invalid store option."""


class KuboError(StorageError):
    """Base class of errors talking to a Kubo daemon."""


class KuboUnavailableError(KuboError, ConnectionError):
    """The Kubo RPC API could not be reached (after the configured retries)."""

    def __init__(self, url: str, detail: str = "") -> None:
        self.url = url
        message = f"Kubo RPC API at {url} is unreachable"
        super().__init__(f"{message}: {detail}" if detail else message)


class KuboTimeoutError(KuboError, TimeoutError):
    """The Kubo daemon did not answer within the timeout."""


class KuboAPIError(KuboError):
    """Kubo answered a request with an error."""

    def __init__(self, endpoint: str, status: int, message: str) -> None:
        self.endpoint = endpoint
        self.status = status
        self.message = message
        super().__init__(f"Kubo {endpoint} failed (HTTP {status}): {message}")


class CodecError(StorageError, ValueError):
    """A model blob that fails validation and must not be loaded."""


class MalformedBlobError(CodecError):
    """The blob is not well-formed safetensors (or uses a feature we refuse)."""


class DtypeMismatchError(CodecError):
    """A tensor has another dtype than the one expected."""


class TensorSetMismatchError(CodecError, KeyError):
    """The tensor names differ from the model spec (missing or unexpected tensors)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ShapeMismatchError(CodecError):
    """A tensor's shape differs from the model spec."""


class NonFiniteError(CodecError):
    """A tensor holds NaN or infinite values."""


class MetadataError(CodecError):
    """Required metadata keys are missing or hold invalid values."""
