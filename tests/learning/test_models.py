"""Model specs, the registry, state conversion and the bounded normalization."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fedchain.learning import (
    ModelSpec,
    ModelSpecError,
    apply_update,
    build_model,
    flatten_state,
    get_state,
    make_spec,
    model_names,
    model_update,
    num_parameters,
    set_state,
    state_shapes,
    unflatten_state,
)
from fedchain.learning.layers import BoundedNorm, PositionBatchNorm


def test_registered_models() -> None:
    assert {"cnn004", "cnn_digits", "mlp_fdc"} <= set(model_names())


def test_cnn004_matches_paper_004() -> None:
    spec = make_spec("cnn004")
    model = build_model(spec, seed=0)
    assert model.num_features == 3920  # 80 channels × 7 × 7
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [30, 80]
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[0].in_features == 3920 and linears[-1].out_features == 10
    assert len(linears) == 4
    n = num_parameters(spec)
    assert n == sum(p.numel() for p in model.parameters()) == 156_414
    assert 550_000 < 4 * n < 650_000  # "about 600 KB" (004: 617.8 KB)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_other_models_shapes() -> None:
    digits = build_model(make_spec("cnn_digits"), seed=0)
    assert digits(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    mlp_spec = make_spec("mlp_fdc", input_shape=[1, 8, 8])
    mlp = build_model(mlp_spec, seed=0)
    assert mlp(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    assert num_parameters(mlp_spec) == 64 * 1024 + 1024 + 1024 * 128 + 128 + 128 * 10 + 10
    # FDC's own MLP: 180 → 1024 → 128 → 4
    fdc = make_spec("mlp_fdc", input_shape=[1, 1, 180], num_classes=4)
    assert num_parameters(fdc) == 180 * 1024 + 1024 + 1024 * 128 + 128 + 128 * 4 + 4


def test_spec_json_round_trip_and_stable_hash() -> None:
    spec = make_spec("cnn004", norm="batch")
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data
    back = ModelSpec.from_dict(data)
    assert back == spec and back.spec_hash() == spec.spec_hash()
    assert len(spec.spec_hash()) == 64
    # key order and tuples vs lists do not matter
    a = ModelSpec("cnn_digits", {"norm": "none", "hidden": (64,)})
    b = ModelSpec("cnn_digits", {"hidden": [64], "norm": "none"})
    assert a.spec_hash() == b.spec_hash() and hash(a) == hash(b)
    assert make_spec("cnn004").spec_hash() != spec.spec_hash()
    # the canonical JSON is what the hash digests
    assert spec.canonical_json() == json.dumps(data, sort_keys=True, separators=(",", ":"))
    with pytest.raises(TypeError):
        spec.params["norm"] = "none"  # type: ignore[index]


def test_spec_errors() -> None:
    with pytest.raises(ModelSpecError, match="unknown model"):
        build_model(ModelSpec("resnet"))
    with pytest.raises(ModelSpecError, match="unknown parameters"):
        make_spec("cnn004", width=3)
    with pytest.raises(ModelSpecError, match="norm must be"):
        make_spec("cnn004", norm="layer") and build_model(make_spec("cnn004", norm="layer"))
    with pytest.raises(ModelSpecError, match="input_shape"):
        build_model(make_spec("mlp_fdc", input_shape=[28, 28]))
    with pytest.raises(ModelSpecError, match="JSON"):
        ModelSpec("cnn004", {"x": object()})
    with pytest.raises(ModelSpecError, match="name"):
        ModelSpec.from_dict({"params": {}})
    with pytest.raises(ModelSpecError, match="unknown model spec fields"):
        ModelSpec.from_dict({"name": "cnn004", "weights": []})
    with pytest.raises(ModelSpecError, match="batch size"):
        build_model(make_spec("cnn004", norm_batch=1))


def test_seeded_build_is_deterministic_and_leaves_global_rng() -> None:
    spec = make_spec("cnn_digits")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = get_state(build_model(spec, seed=5))
    after = torch.rand(1)
    b = get_state(build_model(spec, seed=5))
    c = get_state(build_model(spec, seed=6))
    assert torch.equal(before, after)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["classifier.0.weight"], c["classifier.0.weight"])


@pytest.mark.parametrize("name", ["cnn004", "cnn_digits", "mlp_fdc"])
def test_flatten_unflatten_round_trip(name: str) -> None:
    spec = make_spec(name)
    state = get_state(build_model(spec, seed=1))
    vec = flatten_state(state)
    assert vec.dtype == np.float32 and vec.shape == (num_parameters(spec),)
    back = unflatten_state(vec, spec)
    assert list(back) == sorted(state) == list(state_shapes(spec))
    for k in state:
        assert back[k].dtype == np.float32
        np.testing.assert_array_equal(back[k], state[k])
    # order is sorted keys: the first block is the first key in sorted order
    first = sorted(state)[0]
    np.testing.assert_array_equal(vec[: state[first].size], state[first].ravel())


def test_batchnorm_state_and_counter() -> None:
    spec = make_spec("cnn_digits", norm="batch")
    model = build_model(spec, seed=0)
    state = get_state(model)
    assert "feature_norm.bn.running_var" in state
    assert not any(k.endswith("num_batches_tracked") for k in state)
    assert all(v.dtype == np.float32 for v in state.values())
    set_state(build_model(spec), state)


def test_set_state_and_update_helpers() -> None:
    spec = make_spec("cnn_digits")
    g = get_state(build_model(spec, seed=0))
    local = get_state(build_model(spec, seed=1))
    delta = model_update(local, g)
    rebuilt = apply_update(g, delta, spec)
    for k in local:
        np.testing.assert_allclose(rebuilt[k], local[k], atol=1e-6)
    model = build_model(spec)
    set_state(model, local)
    assert all(np.array_equal(get_state(model)[k], local[k]) for k in local)
    with pytest.raises(ModelSpecError, match="missing"):
        set_state(model, {k: v for k, v in local.items() if k != "classifier.0.bias"})
    bad = dict(local)
    bad["classifier.0.bias"] = np.zeros(3, np.float32)
    with pytest.raises(ModelSpecError, match="shape"):
        set_state(model, bad)
    bad["classifier.0.bias"] = np.zeros(64, np.int32)
    with pytest.raises(ModelSpecError, match="float"):
        set_state(model, bad)
    with pytest.raises(ModelSpecError, match="needs"):
        unflatten_state(np.zeros(5, np.float32), spec)
    with pytest.raises(ModelSpecError, match="one-dimensional"):
        unflatten_state(np.zeros((2, 2), np.float32), spec)
    with pytest.raises(ModelSpecError, match="empty"):
        flatten_state({})


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(2, 256),
    scale=st.floats(1e-3, 1e4),
    shift=st.floats(-100, 100),
    seed=st.integers(0, 10_000),
)
def test_bounded_norm_range(n: int, scale: float, shift: float, seed: int) -> None:
    bound = math.sqrt(n - 1)
    layer = BoundedNorm(bound)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 3, 4, 4, generator=gen) * scale + shift
    y = layer(x)
    assert torch.all(y.abs() <= bound)
    # each (sample, channel) map spans [-bound, bound] (narrower only below min_range)
    spread = x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))
    wide = spread >= layer.min_range
    assert torch.allclose(y.amin(dim=(2, 3)), torch.full((5, 3), -bound), rtol=1e-4)
    top = y.amax(dim=(2, 3))
    assert torch.allclose(top[wide], torch.full_like(top[wide], bound), rtol=1e-4)
    expected = bound * (2 * spread[~wide] / layer.min_range - 1)
    assert torch.allclose(top[~wide], expected, rtol=1e-3, atol=1e-4)
    # per-sample: a sample's output does not depend on the rest of the batch
    assert torch.allclose(layer(x[:1]), y[:1])


def test_bounded_norm_constant_channel_and_mean_free() -> None:
    layer = BoundedNorm(3.0)
    y = layer(torch.zeros(2, 1, 3, 3))
    assert torch.all(y == -3.0)
    # a nearly dead channel is not blown up to the full range: its gradient stays bounded
    x = torch.zeros(1, 1, 3, 3, requires_grad=True)
    with torch.no_grad():
        x[0, 0, 1, 1] = 1e-5
    layer(x).sum().backward()
    assert x.grad is not None and x.grad.abs().max() <= 2 * 3.0 / layer.min_range + 1e-3
    # no mean/variance constraint: a skewed input keeps a non-zero mean
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0
    assert float(layer(x).mean()) < -2.0


def test_position_batchnorm_obeys_cauchy_schwarz_bound() -> None:
    n = 16
    layer = PositionBatchNorm(2 * 3 * 3)
    x = torch.randn(n, 2, 3, 3)
    x[0] += 50.0  # one outlier sample
    y = layer(x)
    assert y.abs().max() <= math.sqrt(n - 1) + 1e-4
    assert torch.allclose(y.mean(dim=0), torch.zeros(2, 3, 3), atol=1e-5)
