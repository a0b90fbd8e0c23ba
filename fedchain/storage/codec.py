"""Model blobs: tensors plus string metadata as safetensors, never pickle.

A blob from a stranger is data, not code: :func:`decode_model` checks the size limit before
parsing anything, then the header (well-formed, no duplicate keys, byte ranges tiling the data),
the dtype, the exact tensor names and shapes of the model spec, finiteness, and the required
metadata, and only then builds arrays (through ``safetensors.numpy``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import safetensors.numpy

from fedchain.storage.errors import (
    BlobTooLargeError,
    DtypeMismatchError,
    MalformedBlobError,
    MetadataError,
    NonFiniteError,
    ShapeMismatchError,
    TensorSetMismatchError,
)
from fedchain.storage.safetensors_format import (
    DTYPES,
    dtype_name,
    parse_header,
    write_safetensors,
)

__all__ = [
    "DEFAULT_MAX_MODEL_BYTES",
    "FORMAT",
    "MODEL_KINDS",
    "ModelMetadata",
    "decode_model",
    "encode_model",
]

#: Refuse model blobs above this many bytes unless the caller raises the limit.
DEFAULT_MAX_MODEL_BYTES: Final = 256 * 1024 * 1024
#: Value of the ``format`` metadata key of every FedChain model blob.
FORMAT: Final = "fedchain-model/1"
MODEL_KINDS: Final = ("initial", "local", "global")

_UINT = re.compile(r"0|[1-9][0-9]{0,77}")  # a uint256 fits in 78 decimal digits
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_RESERVED = (
    "format",
    "task_id",
    "round",
    "author",
    "num_samples",
    "model_spec",
    "model_spec_hash",
    "kind",
)


@dataclass(frozen=True)
class ModelMetadata:
    """What a model blob says about itself (all stored as strings in the safetensors header).

    ``author`` is the 0x-address of the client (local update), the leader (global model) or the
    requester (initial model); ``model_spec_hash`` is a 0x-prefixed 32-byte hex digest of the
    model spec; ``extra`` holds any further string pairs (for example DP parameters).
    """

    task_id: int
    round: int
    author: str
    num_samples: int
    model_spec: str
    model_spec_hash: str
    kind: str
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("task_id", "round", "num_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**256:
                raise MetadataError(f"{name} must be an integer in [0, 2**256), not {value!r}")
        if not isinstance(self.author, str) or not _ADDRESS.fullmatch(self.author):
            raise MetadataError(
                f"author must be a 0x-prefixed 20-byte hex address: {self.author!r}"
            )
        if not isinstance(self.model_spec, str) or not 0 < len(self.model_spec) <= 200:
            raise MetadataError("model_spec must be a name of 1 to 200 characters")
        if not isinstance(self.model_spec_hash, str) or not _HASH.fullmatch(self.model_spec_hash):
            raise MetadataError(
                f"model_spec_hash must be 0x + 64 lower-case hex digits: {self.model_spec_hash!r}"
            )
        if self.kind not in MODEL_KINDS:
            raise MetadataError(f"kind must be one of {MODEL_KINDS}, not {self.kind!r}")
        for key, value in self.extra.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise MetadataError("extra metadata must map strings to strings")
            if key in _RESERVED:
                raise MetadataError(f"extra metadata key {key!r} is reserved")
        object.__setattr__(self, "extra", dict(sorted(self.extra.items())))

    def to_dict(self) -> dict[str, str]:
        """The string map written as safetensors ``__metadata__``."""
        out = {
            "format": FORMAT,
            "task_id": str(self.task_id),
            "round": str(self.round),
            "author": self.author,
            "num_samples": str(self.num_samples),
            "model_spec": self.model_spec,
            "model_spec_hash": self.model_spec_hash,
            "kind": self.kind,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, str]) -> ModelMetadata:
        """Parse and validate a string map (raises :class:`MetadataError`)."""
        missing = [key for key in _RESERVED if key not in values]
        if missing:
            raise MetadataError(f"model blob metadata lacks {', '.join(missing)}")
        if values["format"] != FORMAT:
            raise MetadataError(f"unsupported blob format {values['format']!r} (want {FORMAT})")
        ints = {}
        for key in ("task_id", "round", "num_samples"):
            text = values[key]
            if not isinstance(text, str) or not _UINT.fullmatch(text):
                raise MetadataError(f"{key} must be a decimal integer, not {text!r}")
            ints[key] = int(text)
        return cls(
            task_id=ints["task_id"],
            round=ints["round"],
            author=values["author"],
            num_samples=ints["num_samples"],
            model_spec=values["model_spec"],
            model_spec_hash=values["model_spec_hash"],
            kind=values["kind"],
            extra={k: v for k, v in values.items() if k not in _RESERVED},
        )


def _check_finite(name: str, array: np.ndarray) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        raise NonFiniteError(f"tensor {name!r} holds {bad} NaN or infinite value(s)")


def encode_model(
    tensors: Mapping[str, np.ndarray],
    *,
    metadata: ModelMetadata | Mapping[str, str],
    check_finite: bool = True,
) -> bytes:
    """Serialize ``tensors`` and ``metadata`` as a canonical safetensors blob.

    The same tensors and metadata always give the same bytes, hence the same CID.
    ``check_finite=False`` lets attack simulations publish NaN/inf updates on purpose.
    """
    meta = metadata if isinstance(metadata, ModelMetadata) else ModelMetadata.from_dict(metadata)
    if not tensors:
        raise MalformedBlobError("a model needs at least one tensor")
    arrays: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise MalformedBlobError(f"invalid tensor name {name!r}")
        array = np.asarray(value)
        dtype_name(array.dtype)  # raises for dtypes safetensors cannot hold
        if check_finite:
            _check_finite(name, array)
        arrays[name] = array
    return write_safetensors(arrays, meta.to_dict())


def decode_model(
    blob: bytes | bytearray | memoryview,
    *,
    expected_shapes: Mapping[str, tuple[int, ...]] | None = None,
    dtype: np.dtype | type | str | None = np.float32,
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> tuple[dict[str, np.ndarray], ModelMetadata]:
    """Validate and load a model blob made by :func:`encode_model` (or any safetensors file
    with FedChain metadata).

    ``expected_shapes`` is the model spec: exactly these tensor names with these shapes.
    ``dtype=None`` accepts every dtype; otherwise every tensor must have it.
    """
    if len(blob) > max_bytes:
        raise BlobTooLargeError(
            f"model blob of {len(blob)} bytes exceeds the {max_bytes}-byte limit"
        )
    data = bytes(blob)
    infos, raw_meta = parse_header(data)
    if not infos:
        raise MalformedBlobError("the blob holds no tensor")
    if dtype is not None:
        want = dtype_name(np.dtype(dtype))
        for info in infos:
            if info.dtype != want:
                raise DtypeMismatchError(
                    f"tensor {info.name!r} has dtype {info.dtype}, the model spec wants {want}"
                )
    if expected_shapes is not None:
        names = {info.name for info in infos}
        missing = sorted(set(expected_shapes) - names)
        unexpected = sorted(names - set(expected_shapes))
        if missing or unexpected:
            raise TensorSetMismatchError(
                f"tensors differ from the model spec: missing {missing}, unexpected {unexpected}"
            )
        for info in infos:
            want_shape = tuple(int(d) for d in expected_shapes[info.name])
            if info.shape != want_shape:
                raise ShapeMismatchError(
                    f"tensor {info.name!r} has shape {info.shape}, the model spec wants "
                    f"{want_shape}"
                )
    metadata = ModelMetadata.from_dict(raw_meta)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as exc:  # the Rust parser's own refusal: treat as malformed
        raise MalformedBlobError(f"safetensors refused the blob: {exc}") from None
    tensors: dict[str, np.ndarray] = {}
    for info in infos:
        array = arrays[info.name]
        if array.shape != info.shape or array.dtype != DTYPES[info.dtype]:
            raise MalformedBlobError(f"tensor {info.name!r} decoded inconsistently")
        _check_finite(info.name, array)
        tensors[info.name] = array
    return tensors, metadata
