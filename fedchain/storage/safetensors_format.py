"""The safetensors file format, written canonically and parsed strictly.

Layout: an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8 JSON (the header,
padded with spaces to a multiple of 8), then the raw little-endian tensor bytes. The header maps
each tensor name to ``{"dtype", "shape", "data_offsets"}`` and may hold ``"__metadata__"``, a
string-to-string map.

Why not ``safetensors.numpy.save``: safetensors 0.8 writes ``__metadata__`` in a per-process
random (hash map) order, so the same model would get a different CID in each process. This writer
is canonical (metadata keys sorted, tensors ordered like safetensors orders them: larger dtype
first for alignment, then by name), and its output is read by ``safetensors`` unchanged.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fedchain.storage.errors import MalformedBlobError

__all__ = ["DTYPES", "MAX_HEADER_BYTES", "TensorInfo", "parse_header", "write_safetensors"]

MAX_HEADER_BYTES = 16 * 1024 * 1024

#: safetensors dtype name -> numpy dtype (little endian); BF16 and FP8 have no numpy dtype.
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("bool"),
}
_NAME_OF = {(dt.kind, dt.itemsize): name for name, dt in DTYPES.items()}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor entry of a parsed header."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int  # offset in the blob (header included)
    end: int


def dtype_name(dtype: np.dtype) -> str:
    """The safetensors name of a numpy dtype (raises MalformedBlobError if there is none)."""
    name = _NAME_OF.get((dtype.kind, dtype.itemsize))
    if name is None:
        raise MalformedBlobError(f"dtype {dtype} has no safetensors equivalent")
    return name


def write_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """Serialize ``tensors`` and string ``metadata`` canonically (same input, same bytes)."""
    items = []
    for name, array in tensors.items():
        arr = np.asarray(array)
        target = DTYPES[dtype_name(arr.dtype)]
        items.append((name, dtype_name(arr.dtype), np.asarray(arr, dtype=target, order="C")))
    items.sort(key=lambda item: (-item[2].dtype.itemsize, item[0]))
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name, dname, arr in items:
        header[name] = {
            "dtype": dname,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return b"".join([struct.pack("<Q", len(raw)), raw, *(arr.tobytes() for _, _, arr in items)])


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedBlobError(f"duplicate key {key!r} in the safetensors header")
        out[key] = value
    return out


def _reject_constant(name: str) -> object:
    raise MalformedBlobError(f"{name} is not allowed in a safetensors header")


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedBlobError(f"{what} must be a non-negative integer, not {value!r}")
    return value


def parse_header(blob: bytes | memoryview) -> tuple[list[TensorInfo], dict[str, str]]:
    """Parse and check a safetensors header against the blob it heads.

    Checks: header length in bounds, strict UTF-8 JSON object without duplicate keys, string
    metadata, known dtypes, non-negative shapes, each tensor's byte range matching its shape and
    the ranges tiling the data section exactly (no gap, no overlap, nothing after).
    """
    if len(blob) < 8:
        raise MalformedBlobError(f"{len(blob)} bytes is too short for a safetensors file")
    (header_len,) = struct.unpack_from("<Q", blob, 0)
    if header_len > MAX_HEADER_BYTES or 8 + header_len > len(blob):
        raise MalformedBlobError(
            f"header length {header_len} does not fit a {len(blob)}-byte blob "
            f"(limit {MAX_HEADER_BYTES})"
        )
    try:
        text = bytes(blob[8 : 8 + header_len]).decode("utf-8")
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedBlobError(f"the safetensors header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedBlobError("the safetensors header is not a JSON object")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise MalformedBlobError("__metadata__ must map strings to strings")
    data_start = 8 + header_len
    data_len = len(blob) - data_start
    tensors = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise MalformedBlobError(f"tensor {name!r}: entry must hold dtype, shape, data_offsets")
        dname = entry["dtype"]
        if dname not in DTYPES:
            raise MalformedBlobError(f"tensor {name!r}: unsupported dtype {dname!r}")
        shape_value, offsets = entry["shape"], entry["data_offsets"]
        if not isinstance(shape_value, list) or not isinstance(offsets, list) or len(offsets) != 2:
            raise MalformedBlobError(f"tensor {name!r}: bad shape or data_offsets")
        shape = tuple(_int(d, f"tensor {name!r} shape") for d in shape_value)
        begin = _int(offsets[0], f"tensor {name!r} offset")
        end = _int(offsets[1], f"tensor {name!r} offset")
        nbytes = DTYPES[dname].itemsize * int(np.prod(shape, dtype=object))
        if end < begin or end - begin != nbytes or end > data_len:
            raise MalformedBlobError(
                f"tensor {name!r}: byte range [{begin}, {end}) does not hold {nbytes} bytes "
                f"inside the {data_len}-byte data section"
            )
        tensors.append(TensorInfo(name, dname, shape, data_start + begin, data_start + end))
    position = data_start
    for info in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if info.begin != position:
            raise MalformedBlobError(f"tensor {info.name!r}: data ranges overlap or leave a gap")
        position = info.end
    if position != len(blob):
        raise MalformedBlobError(f"{len(blob) - position} bytes after the last tensor")
    return tensors, metadata
