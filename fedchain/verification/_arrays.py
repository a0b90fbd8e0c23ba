"""Input normalisation shared by the verification rules (no torch import, no big copies).

Updates arrive as a 2-D ``(R, d)`` array, or as a sequence of equally shaped arrays (numpy
arrays, or torch tensors which are turned into numpy views with ``.detach().cpu().numpy()``;
torch itself is never imported here). :class:`UpdateRows` hands out column blocks so that the
rules never build an ``R × d`` copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fedchain.verification.errors import ShapeMismatchError, VerificationError

__all__ = ["UpdateRows", "to_numpy"]

_FLOAT_KINDS = (np.float16, np.float32, np.float64)


def to_numpy(value: Any) -> np.ndarray:
    """Return ``value`` as a numpy array without copying when possible.

    torch tensors are detected by their module name (torch is not imported): they are detached,
    moved to the CPU and viewed as numpy; bfloat16 tensors are first widened to float32.
    """
    module = type(value).__module__ or ""
    if module.startswith("torch"):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float()
        return tensor.numpy()
    return np.asarray(value)


def _check_float(arr: np.ndarray, what: str) -> None:
    if arr.dtype.type not in _FLOAT_KINDS:
        raise ShapeMismatchError(
            f"{what} has dtype {arr.dtype}; expected float16, float32 or float64"
        )


def _common_matrix(rows: list[np.ndarray]) -> np.ndarray | None:
    """A read-only ``(R, d)`` view when the rows are equally spaced slices of one buffer.

    Updates sliced from one stacked array (``[X[0], X[1], ...]``) are then read block-wise
    with one operation per block instead of one per row. Anything else returns None.
    """
    first = rows[0]
    if len(rows) < 2 or first.ndim != 1 or first.strides != (first.itemsize,):
        return None
    base = first.base
    if base is None:
        return None
    addr = [r.__array_interface__["data"][0] for r in rows]
    step = addr[1] - addr[0]
    if step <= 0 or step % first.itemsize:
        return None
    for i, r in enumerate(rows):
        if (
            r.base is not base
            or r.dtype != first.dtype
            or r.strides != first.strides
            or addr[i] != addr[0] + i * step
        ):
            return None
    view = np.lib.stride_tricks.as_strided(
        first, shape=(len(rows), first.size), strides=(step, first.itemsize), writeable=False
    )
    return view


class UpdateRows:
    """R flattened updates of length d, read block by block.

    Attributes:
        R: number of updates.
        d: number of coordinates of each update.
        dtype: ``float64`` if any update is float64, else ``float32`` (float16 widens exactly).
    """

    def __init__(self, updates: Any, *, name: str = "updates") -> None:
        rows: list[np.ndarray]
        matrix: np.ndarray | None = None
        if isinstance(updates, np.ndarray) or (type(updates).__module__ or "").startswith("torch"):
            arr = to_numpy(updates)
            if arr.ndim != 2:
                raise ShapeMismatchError(
                    f"{name} as one array must be 2-D (R, d); got shape {arr.shape}"
                )
            _check_float(arr, name)
            matrix = arr
            rows = [arr[i] for i in range(arr.shape[0])]
        elif isinstance(updates, Sequence) and not isinstance(updates, (str, bytes)):
            rows = []
            shape: tuple[int, ...] | None = None
            for i, u in enumerate(updates):
                a = to_numpy(u)
                _check_float(a, f"{name}[{i}]")
                if shape is None:
                    shape = a.shape
                elif a.shape != shape:
                    raise ShapeMismatchError(
                        f"{name}[{i}] has shape {a.shape}, but {name}[0] has shape {shape}"
                    )
                rows.append(a.reshape(-1))
        else:
            raise VerificationError(
                f"{name} must be a 2-D array or a sequence of arrays, not {type(updates).__name__}"
            )
        if not rows:
            raise VerificationError(f"{name} is empty")
        self.R = len(rows)
        self.d = int(rows[0].size)
        if self.d == 0:
            raise VerificationError(f"{name} have zero coordinates")
        self._rows = rows
        self._matrix = matrix if matrix is not None else _common_matrix(rows)
        self.dtype = (
            np.dtype(np.float64)
            if any(r.dtype == np.float64 for r in rows)
            else np.dtype(np.float32)
        )

    def row(self, i: int) -> np.ndarray:
        """The i-th update as a flat array (a view of the input)."""
        return self._rows[i]

    def block(self, c0: int, c1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Columns ``c0:c1`` of every update as an ``(R, c1 - c0)`` array of :attr:`dtype`.

        With ``out`` (shape ``(R, >= c1 - c0)``), the block is written there and a view returned.
        A 2-D input of the working dtype is returned as a view without copying.
        """
        w = c1 - c0
        if out is None:
            if self._matrix is not None and self._matrix.dtype == self.dtype:
                return self._matrix[:, c0:c1]
            out = np.empty((self.R, w), dtype=self.dtype)
        dest = out[:, :w]
        if self._matrix is not None:
            np.copyto(dest, self._matrix[:, c0:c1], casting="safe")
        else:
            for i, r in enumerate(self._rows):
                dest[i] = r[c0:c1]
        return dest

    def block_into(self, c0: int, c1: int, buf: np.ndarray) -> np.ndarray:
        """Columns ``c0:c1``: a view of a 2-D input of the working dtype, else a copy in ``buf``."""
        if self._matrix is not None and self._matrix.dtype == self.dtype:
            return self._matrix[:, c0:c1]
        return self.block(c0, c1, out=buf)

    def gather(self, idx: np.ndarray, c0: int, c1: int, out: np.ndarray) -> None:
        """Copy columns ``c0:c1`` of the updates ``idx`` into ``out`` (shape ``(len(idx), w)``)."""
        if self._matrix is not None and len(idx) == self.R:
            np.copyto(out, self._matrix[:, c0:c1], casting="same_kind")
            return
        for p, i in enumerate(idx):
            out[p] = self._rows[i][c0:c1]

    def gather_minus(
        self, idx: np.ndarray, c0: int, c1: int, mu: np.ndarray, out: np.ndarray
    ) -> None:
        """``out[p] = update[idx[p]][c0:c1] - mu`` in the dtype of ``out`` (one fused pass)."""
        if self._matrix is not None and len(idx) == self.R:
            np.subtract(self._matrix[:, c0:c1], mu, out=out, casting="same_kind")
            return
        if self._matrix is not None and len(idx):
            # One operation per run of consecutive updates instead of one per update.
            cut = (np.flatnonzero(np.diff(idx) != 1) + 1).tolist()
            for p0, p1 in zip([0, *cut], [*cut, len(idx)], strict=True):
                i0 = int(idx[p0])
                src = self._matrix[i0 : i0 + p1 - p0, c0:c1]
                np.subtract(src, mu, out=out[p0:p1], casting="same_kind")
            return
        for p, i in enumerate(idx):
            np.subtract(self._rows[i][c0:c1], mu, out=out[p], casting="same_kind")

    def mean_of(self, idx: Sequence[int], c0: int, c1: int, dtype: np.dtype) -> np.ndarray:
        """Column mean of columns ``c0:c1`` over the updates ``idx``, in ``dtype``."""
        acc = np.array(self._rows[idx[0]][c0:c1], dtype=dtype)
        for i in idx[1:]:
            np.add(acc, self._rows[i][c0:c1], out=acc, casting="same_kind")
        acc /= dtype.type(len(idx))
        return acc

    def rows_block(self, idx: Sequence[int], c0: int, c1: int) -> np.ndarray:
        """Columns ``c0:c1`` of the updates listed in ``idx``, as float64."""
        out = np.empty((len(idx), c1 - c0), dtype=np.float64)
        for k, i in enumerate(idx):
            out[k] = self._rows[i][c0:c1]
        return out
