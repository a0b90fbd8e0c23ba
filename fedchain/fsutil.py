"""Crash-safe file writes: a temporary file in the target's directory, fsync, then a rename.

One mechanism for every layer (stdlib only, so the chain layer, the storage layer, the reports
and the CLI can all use it)::

    with atomic_output("result.json", mode=0o666) as fh:       # replace, umask decides
        fh.write(data)
    with atomic_output("key.json", overwrite=False) as fh:     # 0600, never clobber
        fh.write(payload)

Readers see the old file or the complete new one, never a part of it. ``overwrite=False``
refuses to replace an existing file even against a concurrent writer: the new file is linked
into place (``link()`` fails atomically if the name exists), and only where the file system has
no hard links does it fall back to a check followed by a rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["TMP_PREFIX", "atomic_output", "fsync_dir"]

#: Name prefix of the temporary files (a directory scan can recognise stale ones).
TMP_PREFIX = ".tmp-"
#: errno values of ``link()`` on file systems without hard links (then: check, then rename).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK})
_OPEN_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


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


def _file_exists(path: Path) -> Exception:
    return FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))


def _create_temporary(directory: Path, mode: int) -> tuple[int, Path]:
    """A new, empty, uniquely named file in ``directory``, opened for reading and writing."""
    for _ in range(100):
        path = directory / f"{TMP_PREFIX}{secrets.token_hex(8)}"
        try:
            return os.open(path, _OPEN_FLAGS, mode), path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(directory))


def _commit(
    tmp: Path, final: Path, *, overwrite: bool, exists_error: Callable[[Path], Exception]
) -> None:
    if overwrite:
        os.replace(tmp, final)
        return
    try:  # link() refuses to clobber atomically, unlike rename()
        os.link(tmp, final)
    except FileExistsError:
        raise exists_error(final) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if final.exists():  # no hard links here: check, then rename
            raise exists_error(final) from None
        os.replace(tmp, final)
    else:
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(
    final: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    mode: int = 0o600,
    tmp_dir: str | os.PathLike[str] | None = None,
    fsync: bool = True,
    exists_error: Callable[[Path], Exception] = _file_exists,
) -> Iterator[BinaryIO]:
    """Write ``final`` all at once: the block writes to a temporary file, which appears under
    ``final``'s name only when the block completes, and is removed if the block raises.

    Args:
        final: the file to write.
        overwrite: replace an existing ``final``; when false, raise ``exists_error(final)``
            instead, even against a concurrent writer.
        mode: the new file's permission bits, less the process umask (as ``open(2)`` does):
            0o600 for private files, 0o666 (the umask decides) or 0o644 for ordinary ones.
        tmp_dir: where the temporary file lives (the same file system as ``final``!);
            default ``final``'s directory.
        fsync: flush the file and the directory entry to disk before returning.
        exists_error: builds the exception for an existing ``final`` (default
            :class:`FileExistsError`).

    The file is opened ``w+b``: the block may seek back and read what it wrote (to check it
    before it appears under its name).

    Raises:
        OSError: the file cannot be created or written (and whatever ``exists_error`` builds).
    """
    final_path = Path(final)
    directory = Path(tmp_dir) if tmp_dir is not None else final_path.parent
    fd, tmp = _create_temporary(directory, mode)
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        _commit(tmp, final_path, overwrite=overwrite, exists_error=exists_error)
        if fsync:
            fsync_dir(final_path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
