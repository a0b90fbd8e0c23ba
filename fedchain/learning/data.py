"""Data sets for local training: scikit-learn's 8×8 digits (offline) and MNIST from a user file.

Every loader returns a :class:`Dataset` whose images are ``float32`` in ``[0, 1]`` shaped
``(N, 1, H, W)`` and whose labels are ``int64``. MNIST is read from a ``.npz`` file (keys
``x_train``, ``y_train``, ``x_test``, ``y_test``, as in ``shared/data/mnist.npz`` or
``keras.datasets.mnist``) or from a directory holding the four original IDX files, plain or
gzip-compressed. Nothing is ever downloaded.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fedchain.learning.errors import DatasetError, DatasetNotFoundError
from fedchain.learning.idx import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx

__all__ = ["DATASETS", "MNIST_IDX_FILES", "Dataset", "load_dataset"]

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
#: The four original MNIST files (each may also end in ``.gz``; ``train-images.idx3-ubyte``
#: style names with a dot are accepted too).
MNIST_IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
DIGITS_TEST_SIZE = 360
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test image-classification data set.

    Attributes:
        name: the data set's name (``"digits"``, ``"mnist"``).
        x_train, x_test: ``float32`` images in ``[0, 1]``, shape ``(N, 1, H, W)``.
        y_train, y_test: ``int64`` labels in ``[0, num_classes)``, shape ``(N,)``.
        num_classes: number of classes.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != np.float32 or x.ndim != 4 or x.shape[1] != 1:
                raise DatasetError(
                    f"{self.name}: x_{split} must be float32 (N, 1, H, W), got {x.dtype} {x.shape}"
                )
            if y.dtype != np.int64 or y.ndim != 1:
                raise DatasetError(f"{self.name}: y_{split} must be int64 (N,), got {y.dtype}")
            if len(x) != len(y):
                raise DatasetError(
                    f"{self.name}: {len(x)} {split} images but {len(y)} {split} labels"
                )
            if len(y) and (y.min() < 0 or y.max() >= self.num_classes):
                raise DatasetError(
                    f"{self.name}: {split} labels must lie in [0, {self.num_classes})"
                )
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(
                f"{self.name}: train images {self.x_train.shape[1:]} and test images "
                f"{self.x_test.shape[1:]} differ in shape"
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        c, h, w = self.x_train.shape[1:]
        return int(c), int(h), int(w)

    def subset(self, *, train: int | None = None, test: int | None = None) -> Dataset:
        """The first ``train`` training and first ``test`` test samples (``None`` keeps all)."""
        return Dataset(
            name=self.name,
            x_train=self.x_train[:train],
            y_train=self.y_train[:train],
            x_test=self.x_test[:test],
            y_test=self.y_test[:test],
            num_classes=self.num_classes,
        )


def _images(arr: np.ndarray, *, where: str) -> np.ndarray:
    """Convert an image array to float32 (N, 1, H, W) in [0, 1]."""
    if arr.ndim == 3:
        arr = arr[:, None, :, :]
    if arr.ndim != 4 or arr.shape[1] != 1:
        raise DatasetError(f"{where}: images must be (N, H, W) or (N, 1, H, W), got {arr.shape}")
    if arr.dtype == np.uint8:
        return (arr.astype(np.float32) / np.float32(255.0)).astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        if out.size and (not np.isfinite(out).all() or out.min() < 0.0 or out.max() > 1.0):
            raise DatasetError(f"{where}: float images must be finite and lie in [0, 1]")
        return out
    raise DatasetError(f"{where}: images must be uint8 (0-255) or float in [0, 1], got {arr.dtype}")


def _labels(arr: np.ndarray, *, where: str) -> np.ndarray:
    if arr.ndim != 1:
        raise DatasetError(f"{where}: labels must be one-dimensional, got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DatasetError(f"{where}: labels must be integers, got {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise DatasetError(f"{where}: labels must be non-negative")
    return arr.astype(np.int64)


def _assemble(name: str, arrays: dict[str, np.ndarray], *, where: str) -> Dataset:
    x_train = _images(arrays["x_train"], where=f"{where} x_train")
    x_test = _images(arrays["x_test"], where=f"{where} x_test")
    y_train = _labels(arrays["y_train"], where=f"{where} y_train")
    y_test = _labels(arrays["y_test"], where=f"{where} y_test")
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise DatasetError(f"{where}: {len(x)} {split} images but {len(y)} {split} labels")
    if len(y_train) == 0:
        raise DatasetError(f"{where}: no training samples")
    num_classes = int(max(y_train.max(), y_test.max() if len(y_test) else 0)) + 1
    return Dataset(name, x_train, y_train, x_test, y_test, num_classes)


def _load_npz(name: str, path: Path) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in _NPZ_KEYS if k not in npz.files]
            if missing:
                raise DatasetError(
                    f"{path}: missing keys {missing}; a data set .npz needs {list(_NPZ_KEYS)}"
                )
            arrays = {k: npz[k] for k in _NPZ_KEYS}
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{path}: not a readable .npz file ({exc})") from exc
    return _assemble(name, arrays, where=str(path))


def _find_idx(directory: Path, stem: str) -> Path:
    dotted = stem.replace("-idx", ".idx")
    for candidate in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = directory / candidate
        if p.is_file():
            return p
    raise DatasetNotFoundError(f"{directory}: no {stem} (or {stem}.gz) IDX file")


def _load_idx_dir(name: str, directory: Path) -> Dataset:
    arrays = {}
    for key, stem in MNIST_IDX_FILES.items():
        magic = IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC
        arrays[key] = read_idx(_find_idx(directory, stem), expected_magic=magic)
    return _assemble(name, arrays, where=str(directory))


def _load_file_dataset(name: str, path: str | Path | None) -> Dataset:
    if path is None:
        raise DatasetNotFoundError(
            f"data set {name!r} is not bundled: pass path= to a .npz file "
            f"(keys {', '.join(_NPZ_KEYS)}) or to a directory with the original IDX files"
        )
    p = Path(path)
    if p.is_dir():
        return _load_idx_dir(name, p)
    if not p.exists():
        raise DatasetNotFoundError(f"{name}: {p} does not exist")
    return _load_npz(name, p)


def _load_digits(path: str | Path | None) -> Dataset:
    if path is not None:
        raise DatasetError("the digits data set ships with scikit-learn; it takes no path")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y))
    test, train = order[:DIGITS_TEST_SIZE], order[DIGITS_TEST_SIZE:]
    return Dataset("digits", x[train], y[train], x[test], y[test], 10)


#: Known data set names and their loaders ``(path) -> Dataset``.
DATASETS: dict[str, Callable[[str | Path | None], Dataset]] = {
    "digits": _load_digits,
    "mnist": lambda path: _load_file_dataset("mnist", path),
}


def load_dataset(name: str, *, path: str | Path | None = None) -> Dataset:
    """Load a data set by name.

    Args:
        name: ``"digits"`` (scikit-learn's 8×8 digits, 1437 train / 360 test in a fixed seeded
            split) or ``"mnist"`` (needs ``path``).
        path: for ``"mnist"``: a ``.npz`` file with ``x_train``/``y_train``/``x_test``/``y_test``
            (uint8 0-255 or float in [0, 1] images, shaped (N, H, W) or (N, 1, H, W)), or a
            directory with ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``).

    Raises:
        DatasetNotFoundError: missing file or directory (also a :class:`FileNotFoundError`).
        DatasetError: unknown name, missing keys, wrong shapes or dtypes, corrupt IDX headers,
            image/label count mismatch (also a :class:`ValueError`).
    """
    try:
        loader = DATASETS[name]
    except KeyError:
        raise DatasetError(f"unknown data set {name!r}; known: {sorted(DATASETS)}") from None
    return loader(path)
