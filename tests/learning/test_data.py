"""Data loaders: digits, MNIST from .npz and from IDX files, and every malformed-input error."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from fedchain.errors import FedChainError
from fedchain.learning import DatasetError, DatasetNotFoundError, LearningError, load_dataset
from fedchain.learning.idx import read_idx, write_idx


def _tiny_arrays(n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, size=n_train).astype(np.uint8),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, size=n_test).astype(np.uint8),
    }


def _write_idx_dir(directory: Path, arrays: dict[str, np.ndarray], *, compress: bool) -> None:
    names = {
        "x_train": "train-images-idx3-ubyte",
        "y_train": "train-labels-idx1-ubyte",
        "x_test": "t10k-images-idx3-ubyte",
        "y_test": "t10k-labels-idx1-ubyte",
    }
    for key, name in names.items():
        write_idx(directory / (name + (".gz" if compress else "")), arrays[key], compress=compress)


def test_digits_split_is_fixed_and_normalised() -> None:
    ds = load_dataset("digits")
    again = load_dataset("digits")
    assert ds.x_train.shape == (1437, 1, 8, 8) and ds.x_test.shape == (360, 1, 8, 8)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0
    assert ds.num_classes == 10 and ds.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    assert set(np.unique(ds.y_test)) == set(range(10))


def test_digits_takes_no_path(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="takes no path"):
        load_dataset("digits", path=tmp_path)


def test_mnist_from_shared_npz(shared_dir: Path) -> None:
    ds = load_dataset("mnist", path=shared_dir / "data" / "mnist.npz")
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.num_classes == 10
    # class counts documented in shared/data/README.md
    assert np.bincount(ds.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    # well-known MNIST training mean 0.1307
    assert abs(float(ds.x_train[:10000].mean()) - 0.1307) < 0.005
    small = ds.subset(train=100, test=10)
    assert len(small.y_train) == 100 and len(small.y_test) == 10


@pytest.mark.parametrize("compress", [False, True])
def test_idx_directory_round_trip(tmp_path: Path, compress: bool) -> None:
    arrays = _tiny_arrays()
    _write_idx_dir(tmp_path, arrays, compress=compress)
    ds = load_dataset("mnist", path=tmp_path)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"].astype(np.int64))
    np.testing.assert_allclose(ds.x_test[:, 0], arrays["x_test"] / 255.0, atol=1e-7)
    # the same arrays through .npz give the same data set
    np.savez(tmp_path / "m.npz", **arrays)
    via_npz = load_dataset("mnist", path=tmp_path / "m.npz")
    np.testing.assert_array_equal(via_npz.x_train, ds.x_train)


def test_idx_header_is_parsed(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = write_idx(tmp_path / "a", arr).read_bytes()
    assert struct.unpack(">IIII", raw[:16]) == (2051, 2, 3, 4)
    np.testing.assert_array_equal(read_idx(tmp_path / "a", expected_magic=2051), arr)
    lab = write_idx(tmp_path / "l.gz", np.array([1, 2, 3], np.uint8), compress=True)
    assert struct.unpack(">I", gzip.decompress(lab.read_bytes())[:4]) == (2049,)


def test_idx_errors(tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    with pytest.raises(DatasetError, match="magic number is 2049, expected 2051"):
        read_idx(labels, expected_magic=2051)
    (tmp_path / "junk").write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    (tmp_path / "float").write_bytes(bytes([0, 0, 0x0D, 1]) + struct.pack(">I", 1) + b"\x00" * 4)
    with pytest.raises(DatasetError, match="type code"):
        read_idx(tmp_path / "float")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 3)
    with pytest.raises(DatasetError, match="announces"):
        read_idx(tmp_path / "short")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DatasetError, match="gzip"):
        read_idx(tmp_path / "bad.gz")
    with pytest.raises(DatasetNotFoundError):
        read_idx(tmp_path / "absent")


def test_idx_directory_errors(tmp_path: Path) -> None:
    arrays = _tiny_arrays()
    _write_idx_dir(tmp_path, arrays, compress=False)
    # swap images and labels: corrupt magic
    (tmp_path / "t10k-labels-idx1-ubyte").rename(tmp_path / "tmp")
    (tmp_path / "t10k-images-idx3-ubyte").rename(tmp_path / "t10k-labels-idx1-ubyte")
    (tmp_path / "tmp").rename(tmp_path / "t10k-images-idx3-ubyte")
    with pytest.raises(DatasetError, match="magic"):
        load_dataset("mnist", path=tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError, match="t10k-images"):
        load_dataset("mnist", path=tmp_path)


def test_idx_count_mismatch(tmp_path: Path) -> None:
    arrays = _tiny_arrays()
    arrays["y_train"] = arrays["y_train"][:-1]
    _write_idx_dir(tmp_path, arrays, compress=True)
    with pytest.raises(DatasetError, match="12 train images but 11 train labels"):
        load_dataset("mnist", path=tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("y_test"), "missing keys"),
        (lambda a: a.update(x_train=a["x_train"][:, :, :, None, None]), "images must be"),
        (lambda a: a.update(x_train=a["x_train"].astype(np.int32)), "uint8"),
        (lambda a: a.update(x_train=a["x_train"].astype(np.float32)), r"\[0, 1\]"),
        (lambda a: a.update(y_train=a["y_train"].astype(np.float32)), "integers"),
        (lambda a: a.update(y_train=a["y_train"][:, None]), "one-dimensional"),
        (lambda a: a.update(y_test=a["y_test"][:3]), "5 test images but 3 test labels"),
        (lambda a: a.update(x_test=a["x_test"][:, :20, :20]), "differ in shape"),
    ],
)
def test_npz_errors(tmp_path: Path, change, message: str) -> None:
    arrays = _tiny_arrays()
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("mnist", path=tmp_path / "bad.npz")
    assert isinstance(info.value, ValueError | LearningError | FedChainError)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="pass path="):
        load_dataset("mnist")
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", path=tmp_path / "nope.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(DatasetError, match="not a readable"):
        load_dataset("mnist", path=tmp_path / "text.npz")
    with pytest.raises(DatasetError, match="unknown data set"):
        load_dataset("cifar")


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    arrays: dict[str, np.ndarray] = dict(_tiny_arrays())
    arrays["y_test"] = np.array([object()] * 5, dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(DatasetError):
        load_dataset("mnist", path=tmp_path / "pickled.npz")
