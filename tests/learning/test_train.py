"""Local training learns, is deterministic under its seed, and validates its inputs."""

from __future__ import annotations

import numpy as np
import pytest

from fedchain.learning import (
    PrivacyConfig,
    TrainingError,
    build_model,
    evaluate,
    flatten_state,
    get_state,
    load_dataset,
    make_spec,
    predict,
    train_local,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def spec():
    return make_spec("cnn_digits")


@pytest.fixture(scope="module")
def init(spec):
    return get_state(build_model(spec, seed=0))


def test_training_learns_digits(digits, spec, init) -> None:
    before = evaluate(spec, init, digits.x_test, digits.y_test)
    r = train_local(
        spec,
        init,
        digits.x_train,
        digits.y_train,
        epochs=4,
        batch_size=32,
        lr=0.01,
        momentum=0.9,
        seed=0,
    )
    after = evaluate(spec, r.state, digits.x_test, digits.y_test)
    assert before < 0.2 and after > 0.85
    assert r.num_samples == len(digits.y_train) and r.epsilon is None and np.isfinite(r.loss)
    assert set(r.state) == set(init) and all(v.dtype == np.float32 for v in r.state.values())


def test_training_learns_under_feature_dp(digits, spec, init) -> None:
    r = train_local(
        spec,
        init,
        digits.x_train,
        digits.y_train,
        epochs=4,
        batch_size=32,
        lr=0.01,
        momentum=0.9,
        seed=0,
        privacy=PrivacyConfig.create("feature_dp", epsilon=4.0),
    )
    assert evaluate(spec, r.state, digits.x_test, digits.y_test) > 0.7
    assert r.epsilon == pytest.approx(16.0) and r.delta == 0.0


@pytest.mark.parametrize(
    "privacy",
    [
        None,
        PrivacyConfig.create("feature_dp", epsilon=2.0),
        PrivacyConfig.create("dp_sgd", noise_multiplier=1.0),
        PrivacyConfig.create("dp_sgd_laplace", epsilon=10.0, norm="l1"),
        PrivacyConfig.create("model_laplace", epsilon=10.0, sensitivity=0.1),
    ],
    ids=lambda p: "none" if p is None else p.mechanism,
)
def test_training_is_deterministic_under_seed(digits, spec, init, privacy) -> None:
    x, y = digits.x_train[:200], digits.y_train[:200]

    def run(seed: int) -> np.ndarray:
        r = train_local(
            spec, init, x, y, epochs=1, batch_size=32, lr=0.05, privacy=privacy, seed=seed
        )
        return flatten_state(r.state)

    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a, flatten_state(init))


def test_batchnorm_model_trains_with_odd_final_batch(digits) -> None:
    spec = make_spec("cnn_digits", norm="batch")
    init = get_state(build_model(spec, seed=0))
    r = train_local(
        spec,
        init,
        digits.x_train[:65],
        digits.y_train[:65],
        epochs=1,
        batch_size=32,
        lr=0.05,
        seed=0,
        privacy=PrivacyConfig.create("feature_dp", epsilon=2.0),
    )
    assert np.isfinite(r.loss)
    assert not np.array_equal(
        r.state["feature_norm.bn.running_mean"], init["feature_norm.bn.running_mean"]
    )


def test_predict_and_evaluate(digits, spec, init) -> None:
    pred = predict(spec, init, digits.x_test[:50], batch_size=7)
    assert pred.shape == (50,) and pred.dtype == np.int64
    acc = evaluate(spec, init, digits.x_test[:50], digits.y_test[:50])
    assert acc == pytest.approx(float((pred == digits.y_test[:50]).mean()))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"x": np.zeros((0, 1, 8, 8), np.float32), "y": np.zeros(0, np.int64)}, "no samples"),
        ({"x": np.zeros((4, 1, 8, 8), np.float64)}, "float32"),
        ({"y": np.zeros(3, np.int64)}, "4 images but 3 labels"),
        ({"y": np.zeros(4, np.float32)}, "integer"),
    ],
)
def test_train_local_validates(spec, init, kwargs, message) -> None:
    args = {
        "x": np.zeros((4, 1, 8, 8), np.float32),
        "y": np.zeros(4, np.int64),
        "epochs": 1,
        "batch_size": 2,
        "lr": 0.1,
    }
    args.update(kwargs)
    with pytest.raises(TrainingError, match=message):
        train_local(spec, init, args.pop("x"), args.pop("y"), seed=0, **args)
