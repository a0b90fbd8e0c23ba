"""Reader and writer for the IDX format of the original MNIST files (plain or gzip-compressed).

An IDX file starts with a 4-byte magic number: two zero bytes, a type code (``0x08`` = unsigned
byte, the only type MNIST uses) and the number of dimensions; then one big-endian ``uint32`` per
dimension, then the data in C order. MNIST's image files have magic 2051 (``0x00000803``: ubyte,
3 dimensions N × 28 × 28) and its label files magic 2049 (``0x00000801``: ubyte, 1 dimension).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from fedchain.learning.errors import DatasetError, DatasetNotFoundError

__all__ = ["IDX_IMAGES_MAGIC", "IDX_LABELS_MAGIC", "read_idx", "write_idx"]

IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049
_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DatasetNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{path}: corrupt gzip stream ({exc})") from exc
    return raw


def read_idx(path: str | Path, *, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain, detected from the content) into a ``uint8`` array.

    Args:
        path: the file.
        expected_magic: if given (2051 for images, 2049 for labels), the magic number the
            header must carry.

    Raises:
        DatasetNotFoundError: the file does not exist.
        DatasetError: bad magic, unsupported type code, or a size that does not match the header.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DatasetError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    if expected_magic is not None and magic != expected_magic:
        raise DatasetError(
            f"{path}: IDX magic number is {magic}, expected {expected_magic} "
            f"({'images' if expected_magic == IDX_IMAGES_MAGIC else 'labels'})"
        )
    zero, type_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00" or ndim == 0:
        raise DatasetError(f"{path}: not an IDX file (magic {magic:#010x})")
    if type_code != _UBYTE:
        raise DatasetError(f"{path}: IDX type code {type_code:#04x} unsupported (only 0x08 ubyte)")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DatasetError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    count = int(np.prod(dims, dtype=np.int64))
    body = raw[header_len:]
    if len(body) != count:
        raise DatasetError(
            f"{path}: IDX header announces {dims} = {count} bytes of data, file holds {len(body)}"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims).copy()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool = False) -> Path:
    """Write a ``uint8`` array as an IDX file (gzip-compressed if ``compress``); return the path."""
    arr = np.ascontiguousarray(array)
    if arr.dtype != np.uint8:
        raise DatasetError(f"write_idx needs a uint8 array, got {arr.dtype}")
    if arr.ndim == 0 or arr.ndim > 255:
        raise DatasetError(f"write_idx needs 1 to 255 dimensions, got {arr.ndim}")
    header = bytes([0, 0, _UBYTE, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.tobytes()
    path = Path(path)
    # mtime=0 keeps compressed output byte-identical across runs.
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path
