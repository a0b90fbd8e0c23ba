"""The interface every blob store implements (the local directory store, Kubo, yours)."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType

from fedchain.storage.cid import DEFAULT_IMPORT, ImportParams
from fedchain.storage.errors import BlobTooLargeError, StoreConfigError

__all__ = ["DEFAULT_MAX_BLOB_BYTES", "BlobStore"]

#: Default size limit of one blob, for reads and writes.
DEFAULT_MAX_BLOB_BYTES = 1024 * 1024 * 1024


class BlobStore(ABC):
    """Content-addressed blobs keyed by their IPFS CID.

    Guarantees shared by every implementation: ``put`` returns ``compute_cid(data)`` under the
    store's :class:`ImportParams`; ``get`` returns bytes that hash to the requested CID or
    raises (:class:`~fedchain.storage.errors.CorruptBlobError`,
    :class:`~fedchain.storage.errors.BlobNotFoundError`); CIDs are validated before use; blobs
    over the size limit are refused. A CIDv0 and the CIDv1 of the same block are the same key.
    """

    params: ImportParams
    max_bytes: int

    def __init__(self, *, params: ImportParams = DEFAULT_IMPORT, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise StoreConfigError(f"max_bytes must be positive, not {max_bytes}")
        self.params = params
        self.max_bytes = max_bytes

    def _limit(self, max_bytes: int | None) -> int:
        return self.max_bytes if max_bytes is None else min(max_bytes, self.max_bytes)

    def _check_size(self, size: int, max_bytes: int | None, what: str) -> None:
        limit = self._limit(max_bytes)
        if size > limit:
            raise BlobTooLargeError(f"{what} of {size} bytes exceeds the {limit}-byte limit")

    @abstractmethod
    def put(self, data: bytes, *, pin: bool = True) -> str:
        """Store ``data``; return its CID. ``pin=True`` protects it from :meth:`gc`."""

    @abstractmethod
    def put_file(self, path: str | os.PathLike[str], *, pin: bool = True) -> str:
        """Store the file at ``path`` (streamed, never read whole); return its CID."""

    @abstractmethod
    def get(self, cid: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of ``cid``, checked against it; at most ``max_bytes`` (and the store's
        limit)."""

    @abstractmethod
    def get_file(
        self,
        cid: str,
        dest: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        max_bytes: int | None = None,
    ) -> Path:
        """Write the checked bytes of ``cid`` to ``dest`` atomically (streamed); refuse to
        replace an existing file unless ``overwrite``. Returns ``dest``."""

    @abstractmethod
    def has(self, cid: str) -> bool:
        """True if the store holds ``cid`` (without reading or checking it)."""

    @abstractmethod
    def pin(self, cid: str) -> None:
        """Protect a stored blob from :meth:`gc`."""

    @abstractmethod
    def unpin(self, cid: str) -> bool:
        """Remove the pin of ``cid``; False if it was not pinned."""

    @abstractmethod
    def pins(self) -> list[str]:
        """Pinned CIDs (CIDv1 base32 keys), sorted."""

    @abstractmethod
    def gc(self) -> list[str]:
        """Delete every unpinned blob; return their CIDs."""

    def describe(self) -> str:
        """A short human description (for messages and ``--json`` output)."""
        return type(self).__name__

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release connections or handles (no-op by default)."""

    def __enter__(self) -> BlobStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
