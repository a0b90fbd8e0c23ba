"""``LocalStore``: the embedded default store, a directory of blobs keyed by CID.

Layout under ``root``::

    blobs/<xy>/<cidv1>   one file per blob: the file's bytes (not its DAG blocks); <xy> is the
                         next-to-last two characters of the CID (as Kubo's flatfs shards)
    pins/<cidv1>         one empty file per pinned blob
    tmp/                 temporary files of writes in progress

Every write goes to ``tmp/`` then is fsync'ed and renamed into place, so several processes may
share one directory: a reader sees a whole blob or none. Every read hashes the bytes again and
compares them with the CID. Paths are built only from the canonical form of a CID that parsed,
so no CID can name a path outside the store.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from fedchain.storage.base import DEFAULT_MAX_BLOB_BYTES, BlobStore
from fedchain.storage.cid import (
    DEFAULT_IMPORT,
    ImportParams,
    compute_cid,
    compute_cid_file,
    parse_cid,
    verify_cid,
    verify_cid_file,
)
from fedchain.storage.errors import (
    BlobNotFoundError,
    BlobTooLargeError,
    CorruptBlobError,
    InvalidCIDError,
    OutputExistsError,
    StoreConfigError,
)
from fedchain.storage.fsutil import TMP_PREFIX, atomic_output, fsync_dir

__all__ = ["LocalStore"]

_STALE_TMP_SECONDS = 3600.0


class LocalStore(BlobStore):
    """Blobs in a local directory, verified against their CID on every read."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        params: ImportParams = DEFAULT_IMPORT,
        max_bytes: int = DEFAULT_MAX_BLOB_BYTES,
        fsync: bool = True,
    ) -> None:
        super().__init__(params=params, max_bytes=max_bytes)
        self.root = Path(root).expanduser()
        self.fsync = fsync
        if self.root.exists() and not self.root.is_dir():
            raise StoreConfigError(f"store path {self.root} exists and is not a directory")
        self._blobs = self.root / "blobs"
        self._pins = self.root / "pins"
        self._tmp = self.root / "tmp"
        for directory in (self._blobs, self._pins, self._tmp):
            directory.mkdir(parents=True, exist_ok=True)

    def describe(self) -> str:
        return f"local store {self.root}"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------------

    @staticmethod
    def _key(cid: str) -> str:
        return parse_cid(cid).key  # raises InvalidCIDError before any path exists

    def _blob_path(self, key: str) -> Path:
        return self._blobs / key[-3:-1] / key

    def path_of(self, cid: str) -> Path:
        """Where the blob of ``cid`` lives (or would live) in this store."""
        return self._blob_path(self._key(cid))

    # -- writes ------------------------------------------------------------------------------

    def _pin_key(self, key: str) -> None:
        pin = self._pins / key
        if not pin.exists():
            with atomic_output(pin, tmp_dir=self._tmp, fsync=self.fsync):
                pass

    def _install(self, tmp: Path, key: str) -> None:
        final = self._blob_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
        if self.fsync:
            fsync_dir(final.parent)

    def put(self, data: bytes, *, pin: bool = True) -> str:
        """Store ``data`` and return its CID (pinned unless ``pin=False``)."""
        self._check_size(len(data), None, "blob")
        cid = compute_cid(data, params=self.params)
        key = self._key(cid)
        if pin:  # pin first: a concurrent gc() never sees this blob unpinned
            self._pin_key(key)
        final = self._blob_path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(final, tmp_dir=self._tmp, fsync=self.fsync) as fh:
            fh.write(data)
        return cid

    def put_file(self, path: str | os.PathLike[str], *, pin: bool = True) -> str:
        """Store the file at ``path``: one streamed pass copies it and computes its CID."""
        limit = self.max_bytes
        fd, name = _mkstemp(self._tmp)
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                written = 0

                def tee(chunk: bytes | memoryview) -> None:
                    nonlocal written
                    written += len(chunk)
                    if written > limit:
                        raise BlobTooLargeError(f"{path} exceeds the {limit}-byte limit")
                    out.write(chunk)

                cid = compute_cid_file(path, params=self.params, tee=tee)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            key = self._key(cid)
            if pin:
                self._pin_key(key)
            self._install(tmp, key)
            return cid
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    # -- reads -------------------------------------------------------------------------------

    def _open_checked(self, cid: str, max_bytes: int | None) -> tuple[Path, int]:
        path = self.path_of(cid)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise BlobNotFoundError(cid, self.describe()) from None
        self._check_size(size, max_bytes, f"blob {cid}")
        return path, size

    def get(self, cid: str, *, max_bytes: int | None = None) -> bytes:
        """The bytes of ``cid``, re-hashed and compared with it."""
        path, _ = self._open_checked(cid, max_bytes)
        limit = self._limit(max_bytes)
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError:  # collected between stat and open
            raise BlobNotFoundError(cid, self.describe()) from None
        self._check_size(len(data), max_bytes, f"blob {cid}")
        if not verify_cid(data, cid, params=self.params):
            raise CorruptBlobError(cid, str(path))
        return data

    def get_file(
        self,
        cid: str,
        dest: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        max_bytes: int | None = None,
    ) -> Path:
        """Copy the checked blob of ``cid`` to ``dest`` atomically, streaming."""
        dest_path = Path(dest)
        if dest_path.exists() and not overwrite:
            raise OutputExistsError(str(dest_path))
        path, _ = self._open_checked(cid, max_bytes)
        key = self._key(cid)
        with (
            atomic_output(dest_path, overwrite=overwrite, fsync=self.fsync) as out,
            _open_blob(path, cid, self.describe()) as src,
        ):
            got = compute_cid_file(src, params=self.params, tee=out.write)
            if parse_cid(got).key != key:
                src.seek(0)
                if not verify_cid_file(src, cid, params=self.params):
                    raise CorruptBlobError(cid, str(path))
        return dest_path

    def has(self, cid: str) -> bool:
        """True if the blob file exists (its content is checked on read)."""
        return self.path_of(cid).is_file()

    # -- pins and gc -------------------------------------------------------------------------

    def pin(self, cid: str) -> None:
        """Pin a stored blob (raises :class:`BlobNotFoundError` if it is absent)."""
        key = self._key(cid)
        if not self._blob_path(key).is_file():
            raise BlobNotFoundError(cid, self.describe())
        self._pin_key(key)

    def unpin(self, cid: str) -> bool:
        """Remove the pin; False if there was none."""
        try:
            os.unlink(self._pins / self._key(cid))
        except FileNotFoundError:
            return False
        return True

    def pins(self) -> list[str]:
        """Pinned CIDs (CIDv1 base32), sorted."""
        return sorted(p.name for p in self._pins.iterdir() if _is_key(p.name))

    def gc(self, *, stale_tmp_seconds: float = _STALE_TMP_SECONDS) -> list[str]:
        """Delete unpinned blobs and temporary files older than ``stale_tmp_seconds``
        (younger ones may belong to a write in progress in another process)."""
        removed = []
        for shard in sorted(self._blobs.iterdir()):
            if not shard.is_dir():
                continue
            for blob in sorted(shard.iterdir()):
                if not _is_key(blob.name) or (self._pins / blob.name).exists():
                    continue
                with contextlib.suppress(FileNotFoundError):
                    blob.unlink()
                    removed.append(blob.name)
        cutoff = time.time() - stale_tmp_seconds
        for tmp in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if tmp.name.startswith(TMP_PREFIX) and tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
        return removed


def _mkstemp(directory: Path) -> tuple[int, str]:
    return tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)


def _open_blob(path: Path, cid: str, where: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except FileNotFoundError:  # collected between stat and open
        raise BlobNotFoundError(cid, where) from None


def _is_key(name: str) -> bool:
    try:
        return parse_cid(name).key == name
    except InvalidCIDError:
        return False
