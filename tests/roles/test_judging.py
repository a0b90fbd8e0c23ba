"""A committee member's verdict (``fedchain.roles.judging``): screening, the rule, FedAvg."""

from __future__ import annotations

import numpy as np
import pytest

from fedchain.learning import apply_update, build_model, get_state, make_spec, model_update
from fedchain.roles.judging import NOT_SELECTED, CheckedUpdate, judge_round, models_agree
from fedchain.verification import multikrum
from fedchain.verification.fedavg import fedavg

SPEC = make_spec("cnn_digits")


@pytest.fixture(scope="module")
def glob() -> dict[str, np.ndarray]:
    return get_state(build_model(SPEC, seed=0))


def _local(glob: dict[str, np.ndarray], seed: int, scale: float = 0.01) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(99).normal(size=sum(v.size for v in glob.values()))
    noise = rng.normal(size=base.size)
    update = (scale * (base + 0.3 * noise)).astype(np.float32)
    return apply_update(glob, update, SPEC)


def test_honest_updates_are_averaged_by_sample_count(glob: dict[str, np.ndarray]) -> None:
    locals_ = [_local(glob, s) for s in range(4)]
    updates = [CheckedUpdate(i, 10 * (i + 1), s) for i, s in enumerate(locals_)]
    j = judge_round(glob, updates, spec=SPEC, n_clients=4, byzantine_f=0)
    assert j.accepted == [0, 1, 2, 3] and j.rejected == [] and j.weights_bps == []
    deltas = [model_update(s, glob) for s in locals_]
    expected = apply_update(glob, fedavg(deltas, [10, 20, 30, 40]), SPEC)
    assert models_agree(j.global_state, expected, tolerance=0.0)[0]


def test_stale_copy_and_invalid_updates_count_against_f(glob: dict[str, np.ndarray]) -> None:
    honest = [_local(glob, s) for s in range(5)]
    flipped = apply_update(glob, -4 * model_update(honest[0], glob), SPEC)
    updates = [
        *(CheckedUpdate(i, 100, s) for i, s in enumerate(honest)),
        CheckedUpdate(5, 100, glob),  # free-rider: Δ = 0
        CheckedUpdate(6, 100, honest[2]),  # copy of client 2
        CheckedUpdate(7, 100, None, "blob not found on the store"),
        CheckedUpdate(8, 100, flipped),
    ]
    j = judge_round(glob, updates, spec=SPEC, n_clients=9, byzantine_f=4)
    assert j.accepted == [0, 1, 2, 3, 4]
    assert j.reasons[5].startswith("stale") and "copy of client 2" in j.reasons[6]
    assert j.reasons[7] == "blob not found on the store"
    assert j.reasons[8].startswith("outlier: Multi-KRUM score above 3x")
    assert j.aggregated == [0, 1, 2, 3, 4]
    # Three rejections before the rule leave f = 1 for Multi-KRUM over the six others.
    deltas = np.stack([model_update(s, glob) for s in [*honest, flipped]])
    assert multikrum(deltas, f=1).rejected == [5]


def test_too_few_updates_for_multikrum_are_all_accepted(glob: dict[str, np.ndarray]) -> None:
    updates = [CheckedUpdate(0, 5, _local(glob, 1)), CheckedUpdate(3, 7, _local(glob, 2))]
    j = judge_round(glob, updates, spec=SPEC, n_clients=4, byzantine_f=1)
    assert j.submitted == [0, 3] and j.accepted == [0, 3]


def test_no_accepted_update_keeps_the_global_model(glob: dict[str, np.ndarray]) -> None:
    j = judge_round(glob, [CheckedUpdate(0, 5, glob)], spec=SPEC, n_clients=1, byzantine_f=0)
    assert j.accepted == [] and models_agree(j.global_state, glob, tolerance=0.0) == (True, 0.0)


def test_weights_for_data_amount_and_contribution(glob: dict[str, np.ndarray]) -> None:
    updates = [CheckedUpdate(i, n, _local(glob, i)) for i, n in enumerate([100, 300, 600])]
    data = judge_round(glob, updates, spec=SPEC, n_clients=4, byzantine_f=0, policy="data_amount")
    assert data.weights_bps == [1000, 3000, 6000, 0]
    contrib = judge_round(glob, updates, spec=SPEC, n_clients=3, byzantine_f=0,
                          policy="contribution")  # fmt: skip
    assert len(contrib.weights_bps) == 3 and 9997 <= sum(contrib.weights_bps) <= 10_000


def test_models_agree_within_tolerance_only(glob: dict[str, np.ndarray]) -> None:
    nudged = {k: v + np.float32(1e-6) for k, v in glob.items()}
    assert models_agree(glob, nudged, tolerance=1e-5)[0]
    agree, diff = models_agree(glob, nudged, tolerance=1e-7)
    assert not agree and diff == pytest.approx(1e-6, rel=0.1)
    assert models_agree(glob, {"other": np.zeros(1)}, tolerance=1.0) == (False, float("inf"))
    bad = dict(glob)
    name = next(iter(bad))
    bad[name] = np.full_like(bad[name], np.nan)
    assert not models_agree(glob, bad, tolerance=1.0)[0]


def test_unknown_rule_is_refused(glob: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="mutual_validation"):
        judge_round(glob, [], spec=SPEC, n_clients=1, byzantine_f=0, rule="mutual_validation")


@pytest.mark.parametrize("f", [1, 2, 3])
def test_an_attack_free_round_accepts_every_honest_update(
    glob: dict[str, np.ndarray], f: int
) -> None:
    """Multi-KRUM's cut leaves f honest updates out of the aggregate, and penalises none."""
    honest = [_local(glob, s) for s in range(8)]
    updates = [CheckedUpdate(i, 50 + i, s) for i, s in enumerate(honest)]
    j = judge_round(glob, updates, spec=SPEC, n_clients=8, byzantine_f=f, policy="data_amount")
    assert j.accepted == list(range(8)) and j.rejected == []
    assert len(j.aggregated or ()) == 8 - f and len(j.left_out) == f
    assert all(j.reasons[i] == NOT_SELECTED for i in j.left_out)
    assert set(j.reasons) == set(j.left_out)
    # Rewards follow the accepted set; the model follows the aggregated one.
    assert all(j.weights_bps[i] > 0 for i in range(8))
    chosen = j.aggregated or []
    expected = apply_update(
        glob,
        fedavg([model_update(honest[i], glob) for i in chosen], [50 + i for i in chosen]),
        SPEC,
    )
    assert models_agree(j.global_state, expected, tolerance=1e-6)[0]
    notes = j.notes()
    assert notes["accepted"] == list(range(8)) and notes["aggregated"] == chosen
    assert notes["reasons"] == {str(i): NOT_SELECTED for i in j.left_out}


def test_an_outlier_is_rejected_and_a_mild_attacker_only_left_out(
    glob: dict[str, np.ndarray],
) -> None:
    honest = [_local(glob, s) for s in range(6)]
    loud = apply_update(glob, -4 * model_update(honest[0], glob), SPEC)
    updates = [*(CheckedUpdate(i, 10, s) for i, s in enumerate(honest)), CheckedUpdate(6, 10, loud)]
    j = judge_round(glob, updates, spec=SPEC, n_clients=7, byzantine_f=1)
    assert j.rejected == [6] and j.reasons[6].startswith("outlier")
    # A threshold above the loud update's score ratio: it is only kept out of the aggregate.
    ratio = j.scores[6] / float(np.median(sorted(j.scores[i] for i in range(6))[:3]))
    lenient = judge_round(
        glob, updates, spec=SPEC, n_clients=7, byzantine_f=1, outlier_factor=2 * ratio
    )
    assert lenient.rejected == [] and lenient.left_out == [6]
    assert lenient.reasons[6] == NOT_SELECTED
