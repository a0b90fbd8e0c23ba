"""DP mechanisms: noise scales vs their formulas, accounting, validation, per-sample clipping."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fedchain.learning import (
    PrivacyConfig,
    PrivacyConfigError,
    build_model,
    flatten_state,
    get_state,
    load_dataset,
    make_privacy,
    make_spec,
    perturb_model,
    privacy_mechanisms,
    train_local,
)
from fedchain.learning.dp_sgd import clip_and_sum, laplace_sensitivity
from fedchain.learning.feature_dp import feature_noise_scale
from fedchain.learning.privacy import laplace_noise

N_STAT = 200_000


def _check_laplace(sample: np.ndarray, scale: float) -> None:
    """Laplace(0, b): mean 0, E|X| = b, Var = 2b², P(|X| > b) = 1/e."""
    n = sample.size
    assert abs(sample.mean()) < 5 * scale * math.sqrt(2 / n)
    assert np.abs(sample).mean() == pytest.approx(scale, rel=0.02)
    assert sample.var() == pytest.approx(2 * scale**2, rel=0.04)
    assert (np.abs(sample) > scale).mean() == pytest.approx(math.exp(-1), abs=0.005)


def _loader(x: torch.Tensor, y: torch.Tensor, batch: int) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=False)


def test_registry_lists_the_four_mechanisms() -> None:
    assert {"dp_sgd", "dp_sgd_laplace", "feature_dp", "model_laplace"} <= set(privacy_mechanisms())


def test_laplace_noise_matches_distribution() -> None:
    g = torch.Generator().manual_seed(0)
    sample = laplace_noise((N_STAT,), scale=0.7, generator=g).numpy().astype(np.float64)
    _check_laplace(sample, 0.7)
    again = laplace_noise((5,), scale=1.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(
        again, laplace_noise((5,), scale=1.0, generator=torch.Generator().manual_seed(0))
    )


def test_perturb_model_scale_is_sensitivity_over_epsilon() -> None:
    state = {
        "w": np.zeros(N_STAT, np.float32),
        "feature_norm.bn.running_var": np.ones(10, np.float32),
        "count": np.zeros(3, np.int64),
    }
    out = perturb_model(state, epsilon=2.0, sensitivity=0.5, seed=3)
    _check_laplace(out["w"].astype(np.float64), 0.25)
    assert out["w"].dtype == np.float32
    np.testing.assert_array_equal(out["feature_norm.bn.running_var"], 1.0)  # statistics untouched
    np.testing.assert_array_equal(out["count"], 0)
    assert np.all(state["w"] == 0)  # pure function
    same = perturb_model(state, epsilon=2.0, sensitivity=0.5, seed=3)
    np.testing.assert_array_equal(same["w"], out["w"])
    other = perturb_model(state, epsilon=2.0, sensitivity=0.5, seed=4)
    assert not np.array_equal(other["w"], out["w"])
    stats = perturb_model(state, epsilon=2.0, sensitivity=0.5, seed=3, perturb_statistics=True)
    assert not np.array_equal(
        stats["feature_norm.bn.running_var"], state["feature_norm.bn.running_var"]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epsilon": 0.0, "sensitivity": 1.0},
        {"epsilon": -1.0, "sensitivity": 1.0},
        {"epsilon": math.inf, "sensitivity": 1.0},
        {"epsilon": 1.0, "sensitivity": 0.0},
        {"epsilon": 1.0, "sensitivity": math.nan},
        {"epsilon": True, "sensitivity": 1.0},
        {"epsilon": "1", "sensitivity": 1.0},
    ],
)
def test_perturb_model_validates(kwargs) -> None:
    with pytest.raises(PrivacyConfigError):
        perturb_model({"w": np.zeros(3, np.float32)}, seed=0, **kwargs)


@pytest.mark.parametrize(
    ("mechanism", "params", "message"),
    [
        ("dp_sgd", {}, "exactly one of"),
        ("dp_sgd", {"noise_multiplier": 1.0, "epsilon": 1.0}, "exactly one of"),
        ("dp_sgd", {"epsilon": 0}, "epsilon"),
        ("dp_sgd", {"noise_multiplier": -1.0}, "noise_multiplier"),
        ("dp_sgd", {"epsilon": 1.0, "delta": 1.0}, r"delta must lie in \(0, 1\)"),
        ("dp_sgd", {"epsilon": 1.0, "delta": 0.0}, "delta"),
        ("dp_sgd", {"epsilon": 1.0, "max_grad_norm": 0.0}, "max_grad_norm"),
        ("dp_sgd", {"epsilon": 1.0, "grad_sample_mode": "magic"}, "grad_sample_mode"),
        ("dp_sgd", {"epsilon": 1.0, "poisson_sampling": "yes"}, "poisson_sampling"),
        ("dp_sgd_laplace", {}, "epsilon"),
        ("dp_sgd_laplace", {"epsilon": 1.0, "norm": "linf"}, "norm"),
        ("dp_sgd_laplace", {"epsilon": 1.0, "max_grad_norm": -2.0}, "max_grad_norm"),
        ("feature_dp", {"epsilon": -2.0}, "epsilon"),
        ("feature_dp", {"epsilon": 2.0, "bound": 3.0}, "unknown parameters"),
        ("model_laplace", {"epsilon": 1.0}, "sensitivity"),
        ("gaussian", {"epsilon": 1.0}, "unknown privacy mechanism"),
    ],
)
def test_parameter_validation(mechanism: str, params: dict, message: str) -> None:
    with pytest.raises(PrivacyConfigError, match=message) as info:
        PrivacyConfig(mechanism, params)
    assert isinstance(info.value, ValueError)


def test_privacy_config_round_trip() -> None:
    cfg = PrivacyConfig.create("dp_sgd", epsilon=3.0, delta=1e-6)
    back = PrivacyConfig.from_dict(cfg.to_dict())
    assert back == cfg and hash(back) == hash(cfg)
    mech = cfg.build()
    assert mech.name == "dp_sgd" and mech.params()["delta"] == 1e-6
    with pytest.raises(PrivacyConfigError, match="mechanism"):
        PrivacyConfig.from_dict({"params": {}})
    with pytest.raises(PrivacyConfigError, match="JSON"):
        PrivacyConfig("feature_dp", {"epsilon": math.nan})


def _feature_run(norm: str, epsilon: float):
    spec = make_spec("cnn004", norm=norm)
    model = build_model(spec, seed=0)
    x = torch.zeros(4, 1, 28, 28)
    run = make_privacy("feature_dp", epsilon=epsilon).start(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        loader=_loader(x, torch.zeros(4, dtype=torch.long), 4),
        epochs=3,
        generator=torch.Generator().manual_seed(0),
    )
    return model, run


def test_feature_dp_bounded_noise_scale() -> None:
    model, run = _feature_run("bounded", epsilon=2.0)
    layer = model.feature_norm
    z = torch.randn(64, 80, 7, 7)
    clean = layer.forward(z)  # .forward bypasses hooks
    model.train()
    noise = (layer(z) - clean).numpy().astype(np.float64).ravel()
    expected = 2 * math.sqrt(63) / 2.0  # 2√(N−1)/ε with N = 64
    assert feature_noise_scale(epsilon=2.0, bound=math.sqrt(63)) == pytest.approx(expected)
    _check_laplace(noise, expected)
    model.eval()
    assert torch.equal(layer(z), clean)  # no noise at evaluation
    assert run.epsilon() == pytest.approx(6.0)  # 3 epochs × ε
    run.finish({}, seed=0)
    model.train()
    assert torch.equal(layer(z), clean)  # hook removed


def test_feature_dp_batchnorm_baseline_uses_actual_batch() -> None:
    model, run = _feature_run("batch", epsilon=4.0)
    model.train()
    layer = model.feature_norm
    z = torch.randn(17, 80, 7, 7)
    clean = layer.forward(z)
    # running stats moved by the clean forward; noise is independent of them in train mode
    noisy = layer(z)
    noise = (noisy - layer.forward(z)).numpy().astype(np.float64).ravel()
    _check_laplace(noise, 2 * math.sqrt(16) / 4.0)
    assert clean.abs().max() <= math.sqrt(16) + 1e-4
    run.finish({}, seed=0)


def test_feature_dp_refuses_unbounded_features() -> None:
    with pytest.raises(PrivacyConfigError, match="norm='bounded'"):
        _feature_run("none", epsilon=2.0)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_dp_sgd_refuses_batchnorm(digits) -> None:
    spec = make_spec("cnn_digits", norm="batch")
    g = get_state(build_model(spec, seed=0))
    for cfg in (
        PrivacyConfig.create("dp_sgd", noise_multiplier=1.0),
        PrivacyConfig.create("dp_sgd_laplace", epsilon=1.0),
    ):
        with pytest.raises(PrivacyConfigError, match="BatchNorm"):
            train_local(
                spec,
                g,
                digits.x_train[:64],
                digits.y_train[:64],
                epochs=1,
                batch_size=32,
                lr=0.1,
                privacy=cfg,
                seed=0,
            )


def test_dp_sgd_reports_finite_epsilon(digits) -> None:
    spec = make_spec("cnn_digits")
    g = get_state(build_model(spec, seed=0))
    x, y = digits.x_train[:320], digits.y_train[:320]
    eps = {}
    for sigma in (0.8, 1.5):
        r = train_local(
            spec,
            g,
            x,
            y,
            epochs=2,
            batch_size=32,
            lr=0.1,
            seed=0,
            privacy=PrivacyConfig.create("dp_sgd", noise_multiplier=sigma),
        )
        assert r.epsilon is not None and math.isfinite(r.epsilon) and r.epsilon > 0
        assert r.delta == 1e-5
        eps[sigma] = r.epsilon
    assert eps[1.5] < eps[0.8]
    target = train_local(
        spec,
        g,
        x,
        y,
        epochs=2,
        batch_size=32,
        lr=0.1,
        seed=0,
        privacy=PrivacyConfig.create("dp_sgd", epsilon=3.0, delta=1e-5),
    )
    assert target.epsilon is not None and 2.7 < target.epsilon <= 3.0 + 1e-6


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_fast_mode_equals_opacus_modes_without_noise(digits, mode: str) -> None:
    spec = make_spec("cnn_digits")
    g = get_state(build_model(spec, seed=0))
    x, y = digits.x_train[:96], digits.y_train[:96]

    def run(m: str):
        cfg = PrivacyConfig.create(
            "dp_sgd",
            noise_multiplier=0.0,
            max_grad_norm=0.5,
            grad_sample_mode=m,
            poisson_sampling=False,
        )
        return train_local(spec, g, x, y, epochs=1, batch_size=32, lr=0.5, privacy=cfg, seed=4)

    fast, ref = run("fast"), run(mode)
    np.testing.assert_allclose(flatten_state(fast.state), flatten_state(ref.state), atol=2e-5)
    assert fast.epsilon == ref.epsilon == math.inf or fast.epsilon == pytest.approx(ref.epsilon)


def test_dp_sgd_gaussian_noise_scale(digits) -> None:
    spec = make_spec("cnn_digits")
    g = get_state(build_model(spec, seed=0))
    x, y = digits.x_train[:64], digits.y_train[:64]

    def step(sigma: float) -> np.ndarray:
        cfg = PrivacyConfig.create(
            "dp_sgd", noise_multiplier=sigma, max_grad_norm=2.0, poisson_sampling=False
        )
        r = train_local(spec, g, x, y, epochs=1, batch_size=64, lr=1.0, privacy=cfg, seed=1)
        return flatten_state(r.state)

    # one step of lr 1: θ' = θ − (Σ clipped + N(0, σ²C²)) / B, so the noise is B·(θ'₀ − θ'_σ)
    noise = 64 * (step(0.0) - step(3.0)).astype(np.float64)
    assert noise.std() == pytest.approx(3.0 * 2.0, rel=0.03)
    assert abs(noise.mean()) < 0.1


def _per_sample_loop(model, x, y) -> list[list[torch.Tensor]]:
    grads = []
    for i in range(len(x)):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x[i : i + 1]), y[i : i + 1]).backward()
        grads.append([p.grad.detach().clone() for p in model.parameters()])
    return grads


@pytest.mark.parametrize("name", ["cnn_digits", "mlp_fdc", "cnn004"])
def test_per_sample_gradients_match_opacus_and_a_loop(name: str) -> None:
    from opacus import GradSampleModule

    from fedchain.learning.per_sample import PerSampleGradients

    shape = (1, 28, 28) if name == "cnn004" else (1, 8, 8)
    spec = make_spec(name) if name != "mlp_fdc" else make_spec(name, input_shape=list(shape))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, *shape, generator=gen)
    y = torch.randint(0, 10, (6,), generator=gen)
    model = build_model(spec, seed=0)
    loop = _per_sample_loop(copy.deepcopy(model), x, y)
    engine = PerSampleGradients(model)
    engine.backward(torch.nn.functional.cross_entropy(model(x), y, reduction="sum"))
    ours = [p.grad_sample for p in model.parameters()]
    assert all(p.grad is None for p in model.parameters())  # no ordinary weight gradient
    engine.close()
    gsm = GradSampleModule(copy.deepcopy(model), loss_reduction="sum")
    with pytest.warns(UserWarning, match="Full backward hook"):
        torch.nn.functional.cross_entropy(gsm(x), y, reduction="sum").backward()
    theirs = [p.grad_sample for p in gsm.parameters()]
    for j, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(a, torch.stack([g[j] for g in loop]), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_dp_sgd_laplace_step_equals_clip_then_noise_reference(norm: str) -> None:
    spec = make_spec("cnn_digits")
    model = build_model(spec, seed=0)
    ref_model = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(8, 1, 8, 8, generator=gen)
    y = torch.randint(0, 10, (8,), generator=gen)
    eps, clip, lr = 4.0, 0.3, 0.5
    run = make_privacy("dp_sgd_laplace", epsilon=eps, max_grad_norm=clip, norm=norm).start(
        model,
        optimizer=torch.optim.SGD(model.parameters(), lr=lr),
        loader=_loader(x, y, 8),
        epochs=1,
        generator=torch.Generator().manual_seed(9),
    )
    run.step(x, y)
    # slow reference: one sample at a time, clip each, sum, then add Lap(Δf/ε) and average
    d = sum(p.numel() for p in ref_model.parameters())
    sens = clip * math.sqrt(d) if norm == "l2" else clip
    assert laplace_sensitivity(max_grad_norm=clip, norm=norm, num_weights=d) == pytest.approx(sens)
    total = [torch.zeros_like(p) for p in ref_model.parameters()]
    for grads in _per_sample_loop(ref_model, x, y):
        flat = torch.cat([g.ravel() for g in grads])
        size = flat.norm(2) if norm == "l2" else flat.abs().sum()
        factor = min(1.0, clip / float(size))
        for t, g in zip(total, grads, strict=True):
            t += factor * g
    noise_gen = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for p, t in zip(ref_model.parameters(), total, strict=True):
            noise = laplace_noise(t.shape, scale=sens / eps, generator=noise_gen)
            p -= lr * (t + noise) / len(x)
    for a, b in zip(model.parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert run.epsilon() == eps and run.delta() == 0.0
    run.finish({}, seed=0)


def test_clip_and_sum_bounds_each_sample() -> None:
    g = torch.Generator().manual_seed(0)
    per_sample = [torch.randn(5, 3, 4, generator=g) * 10, torch.randn(5, 7, generator=g)]
    for norm in ("l2", "l1"):
        one = [t[:1] for t in per_sample]
        (a, b) = clip_and_sum(one, max_grad_norm=0.5, norm=norm)
        flat = torch.cat([a.ravel(), b.ravel()])
        size = flat.norm(2) if norm == "l2" else flat.abs().sum()
        assert float(size) == pytest.approx(0.5, rel=1e-5)
    small = [t * 1e-6 for t in per_sample]
    summed = clip_and_sum(small, max_grad_norm=1.0)
    torch.testing.assert_close(summed[0], small[0].sum(0))  # below the bound: unchanged
    with pytest.raises(PrivacyConfigError):
        clip_and_sum(per_sample, max_grad_norm=1.0, norm="linf")


def test_model_laplace_through_training(digits) -> None:
    spec = make_spec("cnn_digits")
    g = get_state(build_model(spec, seed=0))
    x, y = digits.x_train[:64], digits.y_train[:64]
    plain = train_local(spec, g, x, y, epochs=1, batch_size=32, lr=0.1, seed=2)
    noisy = train_local(
        spec,
        g,
        x,
        y,
        epochs=1,
        batch_size=32,
        lr=0.1,
        seed=2,
        privacy=PrivacyConfig.create("model_laplace", epsilon=5.0, sensitivity=0.5),
    )
    diff = (flatten_state(noisy.state) - flatten_state(plain.state)).astype(np.float64)
    assert np.abs(diff).mean() == pytest.approx(0.1, rel=0.05)
    assert noisy.epsilon == 5.0 and noisy.delta == 0.0
