"""Crash-safe file writes: a temporary file in the target's file system, fsync, then rename."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fedchain.storage.errors import OutputExistsError

__all__ = ["TMP_PREFIX", "atomic_output", "fsync_dir"]

TMP_PREFIX = ".tmp-"


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (best effort where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, final: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, final)
        return
    try:  # link() refuses to clobber atomically, unlike rename()
        os.link(tmp, final)
    except FileExistsError:
        raise OutputExistsError(str(final)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if final.exists():  # no hard links here: check, then rename
            raise OutputExistsError(str(final)) from None
        os.replace(tmp, final)
    else:
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(
    final: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    tmp_dir: str | os.PathLike[str] | None = None,
    fsync: bool = True,
) -> Iterator[BinaryIO]:
    """Write ``final`` all at once: readers see the old file or the complete new one, never a
    part. The temporary file lives in ``tmp_dir`` (same file system!) or beside ``final``, and is
    removed if the block raises. The file is opened ``w+b``: the block may seek back and read
    what it wrote (to check it before it appears under its name). ``overwrite=False`` raises
    :class:`OutputExistsError` instead of replacing an existing file, even against a concurrent
    writer."""
    final_path = Path(final)
    directory = Path(tmp_dir) if tmp_dir is not None else final_path.parent
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        _commit(tmp, final_path, overwrite=overwrite)
        if fsync:
            fsync_dir(final_path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
