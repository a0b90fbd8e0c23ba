"""Crash-safe file writes for the storage layer: :mod:`fedchain.fsutil`, raising
:class:`~fedchain.storage.errors.OutputExistsError` for an output file that exists."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from fedchain import fsutil
from fedchain.fsutil import TMP_PREFIX, fsync_dir
from fedchain.storage.errors import OutputExistsError

__all__ = ["TMP_PREFIX", "atomic_output", "fsync_dir"]


def _output_exists(path: Path) -> Exception:
    return OutputExistsError(str(path))


def atomic_output(
    final: str | os.PathLike[str],
    *,
    overwrite: bool = True,
    mode: int = 0o600,
    tmp_dir: str | os.PathLike[str] | None = None,
    fsync: bool = True,
) -> AbstractContextManager[BinaryIO]:
    """:func:`fedchain.fsutil.atomic_output`; ``overwrite=False`` raises
    :class:`OutputExistsError` instead of replacing an existing file, even against a concurrent
    writer."""
    return fsutil.atomic_output(
        final, overwrite=overwrite, mode=mode, tmp_dir=tmp_dir, fsync=fsync,
        exists_error=_output_exists,
    )  # fmt: skip
