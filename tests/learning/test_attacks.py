"""Client behaviours (M15): each one transforms data, updates or submission as specified."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fedchain.learning import AttackConfigError
from fedchain.learning.attacks import (
    AttackContext,
    Behaviour,
    Scheduled,
    behaviour_from_dict,
    behaviour_names,
    compose,
    make_behaviour,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture
def update() -> np.ndarray:
    return rng(1).normal(size=1000).astype(np.float32)


@pytest.fixture
def context() -> AttackContext:
    peers = [np.full(1000, 1.0, np.float32), np.full(1000, 2.0, np.float32)]
    return AttackContext(
        round=3, global_vector=rng(2).normal(size=1000).astype(np.float32), peer_updates=peers
    )


def test_registry_names() -> None:
    assert {
        "honest",
        "label_flip",
        "sign_flip",
        "scale",
        "gaussian_noise",
        "free_rider",
        "copycat",
        "dropout",
        "collude",
    } <= set(behaviour_names())


def test_honest_changes_nothing(update, context) -> None:
    h = make_behaviour("honest")
    x, y = np.zeros((3, 1, 2, 2), np.float32), np.array([1, 2, 3])
    assert h.before_training(x, y, rng()) == (x, y)
    assert h.after_training(update, context, rng()) is update
    assert h.submits(0, rng()) and h.trains


def test_label_flip() -> None:
    y = np.arange(10)
    x = np.zeros((10, 1, 2, 2), np.float32)
    _, flipped = make_behaviour("label_flip").before_training(x, y, rng())
    np.testing.assert_array_equal(flipped, 9 - y)
    _, mapped = make_behaviour("label_flip", mapping={"1": 7}).before_training(x, y, rng())
    assert mapped[1] == 7 and np.array_equal(np.delete(mapped, 1), np.delete(y, 1))
    y_big = np.zeros(10000, np.int64)
    _, part = make_behaviour("label_flip", fraction=0.3).before_training(
        np.zeros((10000, 1, 1, 1), np.float32), y_big, rng()
    )
    assert (part == 9).mean() == pytest.approx(0.3, abs=0.02)
    assert np.all(y_big == 0)  # input untouched


def test_sign_flip_and_scale(update, context) -> None:
    np.testing.assert_array_equal(
        make_behaviour("sign_flip", scale=2.0).after_training(update, context, rng()), -2 * update
    )
    np.testing.assert_allclose(
        make_behaviour("scale", scale=10).after_training(update, context, rng()), 10 * update
    )


def test_gaussian_noise(update, context) -> None:
    big = np.zeros(100_000, np.float32)
    out = make_behaviour("gaussian_noise", std=0.5).after_training(big, context, rng())
    assert out.std() == pytest.approx(0.5, rel=0.02) and out.dtype == np.float32
    replaced = make_behaviour("gaussian_noise", std=0.1, replace=True).after_training(
        update, context, rng()
    )
    assert replaced.std() == pytest.approx(0.1, rel=0.15)
    added = make_behaviour("gaussian_noise", std=0.1).after_training(update, context, rng())
    assert (added - update).std() == pytest.approx(0.1, rel=0.15)


def test_free_rider_resubmits_global(update, context) -> None:
    fr = make_behaviour("free_rider")
    assert not fr.trains
    assert np.all(fr.after_training(update, context, rng()) == 0)
    disguised = make_behaviour("free_rider", noise_std=1e-3).after_training(update, context, rng())
    assert 0 < np.abs(disguised).max() < 0.01


def test_copycat(update, context) -> None:
    copy = make_behaviour("copycat", index=1).after_training(update, context, rng())
    np.testing.assert_array_equal(copy, context.peer_updates[1])
    assert copy is not context.peer_updates[1]
    chosen = make_behaviour("copycat").after_training(update, context, rng(5))
    assert any(np.array_equal(chosen, p) for p in context.peer_updates)
    alone = AttackContext(round=0, global_vector=context.global_vector)
    assert np.all(make_behaviour("copycat").after_training(update, alone, rng()) == 0)
    with pytest.raises(AttackConfigError, match="only 2 peer"):
        make_behaviour("copycat", index=5).after_training(update, context, rng())


def test_dropout() -> None:
    fixed = make_behaviour("dropout", rounds=[2, 4])
    assert [fixed.submits(r, rng(r)) for r in range(6)] == [True, True, False, True, False, True]
    coin = make_behaviour("dropout", probability=0.25)
    g = rng(3)
    share = np.mean([coin.submits(r, g) for r in range(4000)])
    assert share == pytest.approx(0.75, abs=0.03)
    g1, g2 = rng(9), rng(9)
    assert [coin.submits(r, g1) for r in range(50)] == [coin.submits(r, g2) for r in range(50)]


def test_colluders_submit_identical_updates(context) -> None:
    members = [make_behaviour("collude", group="g", mode="noise", std=0.1) for _ in range(3)]
    outs = [
        m.after_training(rng(i).normal(size=1000).astype(np.float32), context, rng(i))
        for i, m in enumerate(members)
    ]
    assert all(np.array_equal(outs[0], o) for o in outs)
    assert outs[0].std() == pytest.approx(0.1, rel=0.15)
    next_round = AttackContext(round=4, global_vector=context.global_vector)
    assert not np.array_equal(members[0].after_training(outs[0], next_round, rng()), outs[0])
    other_group = make_behaviour("collude", group="h", mode="noise", std=0.1)
    assert not np.array_equal(other_group.after_training(outs[0], context, rng()), outs[0])
    shrink = make_behaviour("collude", scale=0.5).after_training(outs[0], context, rng())
    np.testing.assert_allclose(shrink, -0.5 * context.global_vector)


def test_compose_chains_hooks(update, context) -> None:
    b = compose(
        make_behaviour("label_flip"),
        make_behaviour("sign_flip"),
        make_behaviour("scale", scale=3.0),
        make_behaviour("dropout", rounds=[1]),
    )
    x = np.zeros((2, 1, 1, 1), np.float32)
    assert b.before_training(x, np.array([0, 9]), rng())[1].tolist() == [9, 0]
    np.testing.assert_allclose(b.after_training(update, context, rng()), -3 * update)
    assert b.submits(0, rng()) and not b.submits(1, rng())
    assert b.trains
    assert not compose(make_behaviour("honest"), make_behaviour("free_rider")).trains
    single = make_behaviour("honest")
    assert compose(single) is single


def test_dict_round_trip_for_task_files() -> None:
    b = compose(make_behaviour("label_flip", mapping={3: 8}), make_behaviour("dropout", rounds=[2]))
    data = json.loads(json.dumps(b.to_dict()))
    again = behaviour_from_dict(data)
    assert again.to_dict() == data
    listed = behaviour_from_dict([{"name": "sign_flip", "params": {"scale": 4}}])
    assert isinstance(listed, Behaviour) and listed.to_dict()["params"] == {"scale": 4}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("teleport", {}, "unknown behaviour"),
        ("sign_flip", {"factor": 2}, "unknown parameters"),
        ("sign_flip", {"scale": 0}, "> 0"),
        ("scale", {"scale": float("inf")}, "finite"),
        ("label_flip", {"fraction": 1.5}, r"\[0, 1\]"),
        ("label_flip", {"num_classes": 1}, "num_classes"),
        ("label_flip", {"mapping": {0: 12}}, "mapping"),
        ("gaussian_noise", {"std": -1}, "≥ 0"),
        ("dropout", {"probability": 2}, r"\[0, 1\]"),
        ("dropout", {"rounds": ["x"]}, "integers"),
        ("copycat", {"index": -1}, "non-negative"),
        ("collude", {"mode": "mirror"}, "mode"),
    ],
)
def test_behaviour_validation(name, params, message) -> None:
    with pytest.raises(AttackConfigError, match=message) as info:
        make_behaviour(name, **params)
    assert isinstance(info.value, ValueError)


def test_behaviour_from_dict_errors() -> None:
    with pytest.raises(AttackConfigError, match="name"):
        behaviour_from_dict({"params": {}})


def test_a_composite_attacker_is_not_honest_and_names_its_parts(update, context) -> None:
    both = behaviour_from_dict([{"name": "label_flip"}, {"name": "scale", "params": {"scale": 3}}])
    assert not both.honest and both.describe() == "label_flip+scale"
    assert np.allclose(both.after_training(update, context, rng()), 3 * update)
    assert compose(make_behaviour("honest"), make_behaviour("honest")).honest


def test_a_schedule_is_honest_outside_its_rounds(update, context) -> None:
    late = behaviour_from_dict({"name": "sign_flip", "params": {"scale": 2}, "from_round": 4})
    assert isinstance(late, Scheduled) and not late.honest
    assert late.describe() == "sign_flip@4-"
    assert late.at_round(3).honest and late.at_round(4).name == "sign_flip"
    assert late.at_round(40).name == "sign_flip"
    early = AttackContext(round=3, global_vector=context.global_vector)
    assert late.after_training(update, early, rng()) is update
    assert np.array_equal(late.after_training(update, context, rng()), update)  # round 3 too
    at4 = AttackContext(round=4, global_vector=context.global_vector)
    assert np.allclose(late.after_training(update, at4, rng()), -2 * update)
    window = behaviour_from_dict({"name": "dropout", "params": {"probability": 1},
                                  "from_round": 1, "until_round": 2})  # fmt: skip
    assert [window.submits(r, rng()) for r in range(4)] == [True, False, False, True]
    listed = behaviour_from_dict({"name": "copycat", "rounds": [2, 0]})
    assert listed.copies_peers and listed.describe() == "copycat@0,2"
    assert [listed.at_round(r).copies_peers for r in range(3)] == [True, False, True]


def test_a_schedule_round_trips_and_composes() -> None:
    spec = {"name": "sign_flip", "params": {"scale": 4.0}, "from_round": 1, "until_round": 3}
    built = behaviour_from_dict(spec)
    assert built.to_dict() == spec and behaviour_from_dict(built.to_dict()) == built
    mixed = behaviour_from_dict([spec, {"name": "label_flip", "rounds": [5]}])
    assert mixed.at_round(0).honest and mixed.at_round(2).describe() == "sign_flip"
    assert mixed.at_round(5).describe() == "label_flip"
    assert json.loads(json.dumps(mixed.to_dict()))["name"] == "composite"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "sign_flip", "from_round": -1}, "non-negative"),
        ({"name": "sign_flip", "from_round": 3, "until_round": 2}, "before"),
        ({"name": "sign_flip", "rounds": ["x"]}, "integers"),
        ({"name": "sign_flip", "from_round": "4"}, "non-negative integer"),
        ({"name": "sign_flip", "start": 4}, "unknown key"),
    ],
)
def test_schedule_validation(spec, message) -> None:
    with pytest.raises(AttackConfigError, match=message):
        behaviour_from_dict(spec)
