"""Every attack of M15 staged end to end, as a user stages it: caught or not, and by which check.

Real clients train on the digits data, real miners judge from the store, the embedded chain
settles. Each test reads the chain's verdicts and the reason the leader wrote into the round's
global model (``rounds[].reasons``), never what the attacker believes about itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, SimResult, run_simulation

MORTGAGE = 6 * 10**15


def _run(
    attacks: dict[int, Any], *, clients: int = 6, rounds: int = 2, f: int = 2,
    rule: str = "multikrum",
) -> SimResult:  # fmt: skip
    task = TaskFile.from_dict({
        "task": {"max_clients": clients, "rounds": rounds, "byzantine_f": f, "committee_size": 3},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": MORTGAGE},
        "training": {"epochs": 1},
        "verification": {"rule": rule},
    })  # fmt: skip
    return run_simulation(SimConfig(task=task, miners=3, test_size=100, attacks=attacks))


def _verdicts(result: SimResult, i: int) -> list[str]:
    """Client ``i``'s fate per round: ``"accepted"``, or the rejection's reason."""
    s = result.summary
    who = s["clients"][i]
    fates = []
    for row in s["rounds"]:
        if who in row["accepted"]:
            fates.append("accepted")
        elif who in row["rejected"]:
            fates.append((row["reasons"] or {}).get(who, "rejected without a reason"))
        else:
            fates.append("missing")
    return fates


def _money_is_safe(result: SimResult, honest: list[int]) -> None:
    s = result.summary
    assert s["balanced"] is True
    for i in honest:
        p = s["payouts"][s["clients"][i]]
        assert p["penalty"] == 0 and p["payout"] > MORTGAGE


def test_an_exact_copycat_is_rejected_as_a_copy_and_its_victim_is_untouched() -> None:
    # index 0: the first peer update on chain (a random pick might copy the free-rider's Δ = 0,
    # which the screen calls stale)
    result = _run({0: {"name": "copycat", "params": {"index": 0}}, 5: "free_rider"})
    assert _verdicts(result, 0) == ["copy of client 1's update"] * 2
    assert _verdicts(result, 1) == ["accepted", "accepted"]
    assert _verdicts(result, 5) == ["stale: equal to the global model"] * 2
    s = result.summary
    assert s["behaviours"][s["clients"][0]] == "copycat"
    assert s["payouts"][s["clients"][0]]["penalty"] == MORTGAGE
    _money_is_safe(result, [1, 2, 3, 4])


def test_colluders_with_identical_updates_are_caught_by_the_copy_screen() -> None:
    result = _run({1: "collude", 4: "collude"})
    first, second = _verdicts(result, 1), _verdicts(result, 4)
    assert all(v == "copy of client 1's update" for v in second), second
    assert all(v.startswith("outlier") for v in first), first
    _money_is_safe(result, [0, 2, 3, 5])


def test_a_scheduled_sign_flipper_is_accepted_while_honest_and_rejected_after() -> None:
    result = _run({2: {"name": "sign_flip", "params": {"scale": 4}, "from_round": 1}}, f=1)
    fates = _verdicts(result, 2)
    assert fates[0] == "accepted" and fates[1].startswith("outlier"), fates
    s = result.summary
    attacker = s["clients"][2]
    assert s["behaviours"][attacker] == "sign_flip@1-"
    assert s["reputation"][attacker][0] > s["reputation"][attacker][1]
    _money_is_safe(result, [0, 1, 3, 4, 5])


@pytest.mark.parametrize(
    ("attack", "caught_by"),
    [
        ({"name": "gaussian_noise", "params": {"std": 1.0}}, "outlier"),
        ({"name": "scale", "params": {"scale": 10.0}}, "outlier"),
    ],
)
def test_loud_update_poisoning_is_an_outlier(attack: dict[str, Any], caught_by: str) -> None:
    result = _run({3: attack}, f=1)
    assert all(v.startswith(caught_by) for v in _verdicts(result, 3))
    _money_is_safe(result, [0, 1, 2, 4, 5])


def test_label_flipping_is_kept_out_of_the_aggregate_but_not_punished() -> None:
    """No check shows a label-flipper to misbehave: its update is not an outlier. Multi-KRUM's
    cut keeps it out of every aggregate (the model is protected), and since the cut is a
    selection, not proof, it keeps its mortgage (docs/security.md, "what is not caught")."""
    result = _run({3: {"name": "label_flip"}}, f=1)
    s = result.summary
    flipper = s["clients"][3]
    assert _verdicts(result, 3) == ["accepted", "accepted"]
    assert all(row["left_out"] == [flipper] for row in s["rounds"])
    assert s["payouts"][flipper]["penalty"] == 0
    _money_is_safe(result, [0, 1, 2, 4, 5])


@pytest.mark.parametrize(
    "attack",
    [
        {"name": "copycat", "params": {"index": 0, "noise_std": 0.001}},
        {"name": "gaussian_noise", "params": {"std": 0.001}},
    ],
)
def test_disguised_lazy_and_faint_noise_updates_pass(attack: dict[str, Any]) -> None:
    """A copy with faint noise is no exact copy, and faint noise is no outlier: both pass as
    honest work (the limit of distance-based screening, docs/security.md)."""
    result = _run({3: attack}, f=1)
    assert _verdicts(result, 3) == ["accepted", "accepted"]
    s = result.summary
    assert s["payouts"][s["clients"][3]]["penalty"] == 0


def test_a_dropout_is_an_exit_that_forfeits_its_share_of_the_mortgage() -> None:
    result = _run({3: {"name": "dropout", "params": {"rounds": [1]}}}, f=1)
    assert _verdicts(result, 3) == ["accepted", "missing"]
    s = result.summary
    assert s["payouts"][s["clients"][3]]["penalty"] == MORTGAGE // 2
    _money_is_safe(result, [0, 1, 2, 4, 5])


def test_label_flipping_that_multikrum_only_leaves_out_is_rejected_by_mutual_supervision() -> None:
    """Under the mutual mode (003) the other clients measure the flipped model on their own
    data, where it is useless: rejected as poor and penalised, not only left out."""
    result = _run({4: "label_flip", 5: "free_rider"}, rule="mutual")
    fates = _verdicts(result, 4)
    assert all(v.startswith("poor: its median score") for v in fates), fates
    assert _verdicts(result, 5) == ["stale: equal to the global model"] * 2
    s = result.summary
    assert s["payouts"][s["clients"][4]]["penalty"] == MORTGAGE
    _money_is_safe(result, [0, 1, 2, 3])
