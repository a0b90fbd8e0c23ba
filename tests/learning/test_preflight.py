"""A client's checks before it commits to a task: its data against the task's model, and how
long its local training takes (real models, real data, a clock the test controls)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from fedchain.learning import (
    DataMismatchError,
    LearningError,
    PrivacyConfig,
    build_model,
    check_data_fits,
    estimate_training_time,
    get_state,
    load_dataset,
    make_spec,
    register_model,
    train_local,
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    ds = load_dataset("digits")
    return ds.x_train[:200], ds.y_train[:200]


def test_fitting_data_passes_and_returns_the_number_of_classes(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    assert check_data_fits(make_spec("cnn_digits"), x, y) == 10
    assert check_data_fits(make_spec("cnn_digits", num_classes=12), x, y) == 12


def test_mnist_sized_images_do_not_fit_the_digits_model() -> None:
    """The incident: 28×28 images on cnn_digits (8×8) crashed in training after joining."""
    x = np.random.default_rng(0).random((32, 1, 28, 28), dtype=np.float32)
    y = np.arange(32, dtype=np.int64) % 10
    with pytest.raises(DataMismatchError) as info:
        check_data_fits(make_spec("cnn_digits"), x, y)
    assert "1×28×28" in str(info.value) and "1×8×8" in str(info.value)
    assert isinstance(info.value, LearningError) and isinstance(info.value, ValueError)
    # ... and training really would fail with torch's shape error, which the check prevents.
    spec = make_spec("cnn_digits")
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        train_local(spec, get_state(build_model(spec, seed=0)), x, y, epochs=1, batch_size=16,
                    lr=0.05, seed=0)  # fmt: skip


def test_labels_beyond_the_models_classes_are_refused(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    with pytest.raises(DataMismatchError, match=r"labels range over 0\.\.11 .* 10 classes"):
        check_data_fits(make_spec("cnn_digits"), x, np.where(y == 9, 11, y))
    with pytest.raises(DataMismatchError, match="labels range over -1"):
        check_data_fits(make_spec("cnn_digits"), x, y - 1)
    with pytest.raises(DataMismatchError, match="6 classes"):
        check_data_fits(make_spec("cnn_digits", num_classes=6), x, y)


def test_bad_arrays_are_refused(digits: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = digits
    spec = make_spec("cnn_digits")
    with pytest.raises(DataMismatchError, match="float32"):
        check_data_fits(spec, x.astype(np.float64), y)
    with pytest.raises(DataMismatchError, match="float32"):
        check_data_fits(spec, x[:, 0], y)
    with pytest.raises(DataMismatchError, match="1-D integers"):
        check_data_fits(spec, x, y.astype(np.float32))
    with pytest.raises(DataMismatchError, match="200 images but 199 labels"):
        check_data_fits(spec, x, y[:-1])


def test_a_model_without_input_shape_is_checked_by_a_forward_pass(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    register_model("preflight_flat784", defaults={})(
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    )
    x, y = digits
    with pytest.raises(DataMismatchError, match=r"does not pass through .* shapes cannot be"):
        check_data_fits(make_spec("preflight_flat784"), x, y)
    x28 = np.zeros((4, 1, 28, 28), np.float32)
    assert check_data_fits(make_spec("preflight_flat784"), x28, np.arange(4)) == 10


class Ticks:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.reads = 0.0, step, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def test_estimate_scales_a_timed_slice_to_all_epochs(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    x, y = digits
    spec = make_spec("cnn_digits")
    state = get_state(build_model(spec, seed=0))
    clock = Ticks(2.0)  # the timed slice "takes" 2 s
    est = estimate_training_time(spec, state, x, y, epochs=3, batch_size=10, lr=0.05,
                                 clock=clock, batches=4)  # fmt: skip
    assert clock.reads == 2
    assert est.measured_samples == 40 and est.measured_seconds == 2.0
    assert est.seconds == pytest.approx(2.0 * 200 / 40 * 3)
    small = estimate_training_time(spec, state, x[:25], y[:25], epochs=1, batch_size=10,
                                   lr=0.05, clock=Ticks(1.0))  # fmt: skip
    assert small.measured_samples == 25 and small.seconds == pytest.approx(1.0)


def test_estimate_is_close_to_real_training_and_leaves_training_deterministic(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    import time

    x, y = digits
    spec = make_spec("cnn_digits")
    state = get_state(build_model(spec, seed=0))
    privacy = PrivacyConfig.create("feature_dp", epsilon=2.0)
    kwargs: dict[str, Any] = {"epochs": 2, "batch_size": 16, "lr": 0.05, "privacy": privacy}
    first = train_local(spec, state, x, y, seed=5, **kwargs)
    torch_state = torch.random.get_rng_state()
    est = estimate_training_time(spec, state, x, y, **kwargs)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    start = time.perf_counter()
    again = train_local(spec, state, x, y, seed=5, **kwargs)
    real = time.perf_counter() - start
    for name in first.state:
        np.testing.assert_array_equal(first.state[name], again.state[name])
    assert est.seconds > 0 and est.measured_samples == 128
    # Loose on purpose (two shared cores): the right order of magnitude, not a benchmark.
    assert real / 20 < est.seconds < real * 20 + 0.5
