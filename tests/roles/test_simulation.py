"""Whole tasks in one process (``fedchain.sim``): real roles, embedded chain, local store.

Each scenario checks what the chain recorded (verdicts, replacements, slashes, settlements),
not what the roles believe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fedchain.roles.taskfile import TaskFile
from fedchain.sim import SimConfig, SimResult, run_simulation

MORTGAGE = 6 * 10**15  # divisible by 1, 2 and 3 rounds
#: A sign-flipper loud enough to be an outlier (a plain flip is only cut from the aggregate).
LOUD_FLIP = {"name": "sign_flip", "params": {"scale": 4.0}}


def _task(**task: Any) -> TaskFile:
    shape = {"max_clients": 5, "rounds": 2, "byzantine_f": 1, "committee_size": 3, **task}
    return TaskFile.from_dict({
        "task": shape,
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": MORTGAGE},
        "training": {"epochs": 1},
    })  # fmt: skip


def _run(task: TaskFile, **options: Any) -> SimResult:
    return run_simulation(SimConfig(task=task, test_size=100, **options))


def _run_where(
    task: TaskFile, shape: Callable[[SimResult], bool], *, tries: int = 12, **options: Any
) -> SimResult:
    """The first seeded run whose committees have the ``shape`` a test needs.

    Seats are drawn by stake from block hashes, which any change to the contracts' bytecode
    reshuffles: a test of, say, a faulty leader replaced by honest seats looks for a seed under
    which the faulty miner leads with fewer than a quorum of seats, instead of hard-coding one.
    """
    for seed in range(1, tries + 1):
        result = _run(task, seed=seed, **options)
        if shape(result):
            return result
    raise AssertionError(f"no seed in 1..{tries} drew committees of the shape this test needs")


def _replaced_leaders(result: SimResult) -> list[Any]:
    assert result.deployment is not None
    return list(result.deployment.tasks.events("LeaderReplaced"))


def test_sign_flipper_is_rejected_and_penalized_honest_clients_rewarded() -> None:
    result = _run(_task(), attacks={4: LOUD_FLIP}, miners=3)
    s = result.summary
    clients = s["clients"]
    attacker = clients[4]
    assert s["malicious"] == [attacker]
    for row in s["rounds"]:
        assert row["accepted"] == clients[:4] and row["rejected"] == [attacker]
        assert row["missing"] == [] and row["attempts"] == 1
    assert s["reputation"][attacker] == [0, 1]
    assert all(s["reputation"][c] == [6, 7] for c in clients[:4])
    # M11: two lazy rounds of two forfeit the whole mortgage, shared by the four others.
    assert s["payouts"][attacker]["penalty"] == MORTGAGE
    assert s["payouts"][attacker]["reward"] == 0
    for c in clients[:4]:
        p = s["payouts"][c]
        assert p["reward"] == (5 + 6) * 10**14 and p["penalty"] == 0
        assert p["penalty_share"] == MORTGAGE // 4
        assert p["payout"] == MORTGAGE + p["reward"] + p["penalty_share"]
    assert s["balanced"] is True
    assert s["escrow"]["paid"] + s["escrow"]["refunded"] == s["escrow"]["deposited"]
    assert s["stakes"]["slashed"] == 0
    assert 0 < s["final_accuracy"] <= 1 and s["epsilon"] == 2.0
    assert s["gas_total"] > 0 and len(result.transactions) > 20


def test_client_that_never_submits_is_counted_as_an_exit() -> None:
    dropout = {"name": "dropout", "params": {"rounds": [0, 1]}}
    result = _run(_task(byzantine_f=0, committee_size=1), attacks={3: dropout}, miners=1,
                  relay=False)  # fmt: skip
    s = result.summary
    quitter = s["clients"][3]
    assert all(row["missing"] == [quitter] for row in s["rounds"])
    assert all(quitter not in row["accepted"] + row["rejected"] for row in s["rounds"])
    assert s["payouts"][quitter]["penalty"] == MORTGAGE  # p = 2 missed rounds of 2
    assert s["reputation"][quitter] == [0, 1]
    assert s["balanced"] is True


def test_silent_and_down_miners_are_replaced_and_quorum_still_finalizes() -> None:
    # Miner 0 never posts when it leads; miner 2 joins and goes down. Only miner 1 posts; the
    # quorum of a committee of three seats is two: the poster's and miner 0's attestation.
    # Seats are drawn by stake with replacement, so a committee may give miner 1 no seat or
    # miner 2 two (then the round cannot finalize): look for committees that can, with at least
    # one round where miner 0 or 2 leads first.
    result = _run_where(
        _task(rounds=3),
        lambda r: r.summary["status"] == "finished" and bool(_replaced_leaders(r)),
        miners=3, miner_faults={0: frozenset({"silent_leader"})},
        offline_miners=frozenset({2}), attacks={4: LOUD_FLIP},
    )  # fmt: skip
    s = result.summary
    m0, m1, m2 = s["miners"]
    assert s["status"] == "finished"
    assert len(s["rounds"]) == 3 and all(row["leader"] == m1 for row in s["rounds"])
    replaced = [row for row in s["rounds"] if row["attempts"] > 1]
    assert replaced, "the seeded committees should make miner 0 or 2 lead at least once"
    for row in s["rounds"]:
        assert row["attempts"] == row["committee"].index(m1) + 1  # its first seat leads
    assert result.deployment is not None
    slashes = result.deployment.tasks.events("StakeSlashed")
    # every seat that led before miner 1's answers for it: never posted (reason 1)
    failed = [a for row in s["rounds"] for a in row["committee"][: row["attempts"] - 1]]
    assert sorted(e.args["miner"] for e in slashes) == sorted(failed)
    assert all(int(e.args["reason"]) == 1 for e in slashes)
    assert s["payouts"][m1]["slashed"] == 0
    assert s["payouts"][m0]["slashed"] + s["payouts"][m2]["slashed"] == s["stakes"]["slashed"] > 0
    # slashed stake is burned: nobody (the requester included) is credited with it
    assert s["stakes"]["burned"] == s["stakes"]["slashed"]
    assert all(row["rejected"] == [s["clients"][4]] for row in s["rounds"])
    assert s["balanced"] is True


def test_members_dissent_from_a_leader_that_accepts_everything() -> None:
    # Committees where miner 0 leads some round with one seat of three: the two honest seats
    # dissent, so its verdict can never reach quorum and the next in line replaces it at once,
    # before the verdict deadline. (A miner holding two of three seats would finalize its own
    # verdict: seats follow stake; such draws are skipped.)
    result = _run_where(
        _task(),
        lambda r: bool(_replaced_leaders(r))
        and all(row["leader"] != r.summary["miners"][0] for row in r.summary["rounds"]),
        miners=3, miner_faults={0: frozenset({"accept_all"})}, attacks={4: LOUD_FLIP}, tries=40,
    )  # fmt: skip
    s = result.summary
    m0 = s["miners"][0]
    assert all(row["rejected"] == [s["clients"][4]] for row in s["rounds"])
    assert all(row["leader"] != m0 for row in s["rounds"])
    assert result.deployment is not None
    tasks = result.deployment.tasks
    dissents = [e for e in tasks.events("VerdictAttested") if not e.args["agreed"]]
    assert dissents, "the honest members must dissent from (or the faulty miner from) a verdict"
    slashed = [e for e in tasks.events("StakeSlashed")]
    assert slashed and all(e.args["miner"] == m0 for e in slashed)
    assert any(int(e.args["reason"]) == 3 for e in slashed)  # posted a verdict that failed
    replacements = tasks.events("LeaderReplaced")
    assert all(e.args["formerLeader"] == m0 and e.args["formerPosted"] for e in replacements)
    replaced = replacements[0]
    posted = next(e for e in tasks.events("VerdictPosted") if e.args["leader"] == m0)
    # replaced early: in a block stamped before the posted verdict's own deadline
    chain = result.deployment.tasks.chain
    stamp = int(chain.w3.eth.get_block(replaced.block_number)["timestamp"])
    posted_at = int(chain.w3.eth.get_block(posted.block_number)["timestamp"])
    assert stamp < posted_at + 120  # verdict_window = 120 s
    assert s["payouts"][m0]["slashed"] > 0 and s["balanced"] is True


@pytest.mark.parametrize("policy", ["contribution", "data_amount"])
def test_weighted_policies_pay_within_the_round_reward(policy: str) -> None:
    task = TaskFile.from_dict({
        "task": {"max_clients": 4, "rounds": 1, "byzantine_f": 0, "committee_size": 2},
        "rewards": {"policy": policy, "reward_unit": "0.0001 ether",
                    "client_mortgage": MORTGAGE},
        "training": {"epochs": 1},
    })  # fmt: skip
    s = run_simulation(SimConfig(task=task, miners=2, test_size=50)).summary
    (row,) = s["rounds"]
    assert len(row["accepted"]) == 4
    assert 0 < s["escrow"]["paid"] <= s["escrow"]["deposited"]
    assert s["balanced"] is True


def test_requester_cancels_a_task_whose_whole_committee_is_gone() -> None:
    # The only miner joins and goes down: nobody posts round 0. After the verdict window the
    # requester cancels (no leader left); the silent leader is slashed, mortgages come back.
    result = _run(_task(committee_size=1, byzantine_f=0), miners=1,
                  offline_miners=frozenset({0}))  # fmt: skip
    s = result.summary
    assert s["status"] == "cancelled" and s["rounds"] == []
    assert result.deployment is not None
    (cancelled,) = result.deployment.tasks.events("TaskCancelled")
    assert cancelled.args["caller"] == s["requester"]
    miner = s["miners"][0]
    assert s["payouts"][miner]["slashed"] > 0
    assert all(s["payouts"][c]["payout"] == MORTGAGE for c in s["clients"])
    assert s["escrow"]["paid"] == 0 and s["balanced"] is True


def test_a_task_with_fewer_miners_than_its_committee_is_cancelled_at_the_join_deadline() -> None:
    """The contract starts a task only with committee_size miners: two miners for a committee
    of three cannot start it. The requester cancels it once joining closed; nobody loses."""
    result = _run(_task(), miners=2)
    s = result.summary
    assert s["status"] == "cancelled" and s["rounds"] == []
    assert result.deployment is not None
    tasks = result.deployment.tasks
    assert not tasks.events("TaskStarted")
    (cancelled,) = tasks.events("TaskCancelled")
    assert cancelled.args["caller"] == s["requester"]
    info = tasks.taskInfo(cancelled.args["taskId"])
    assert info.clientCount == 5 and info.minerCount == 2  # committee_size is 3
    stamp = int(tasks.chain.w3.eth.get_block(cancelled.block_number)["timestamp"])
    assert stamp > int(info.joinDeadline)  # not a moment before
    assert all(s["payouts"][c]["payout"] == MORTGAGE for c in s["clients"])
    assert all(s["payouts"][m]["slashed"] == 0 for m in s["miners"])
    assert s["escrow"]["paid"] == 0 and s["balanced"] is True


@pytest.mark.anvil
@pytest.mark.slow
def test_simulation_on_anvil_waits_for_real_deadlines() -> None:
    from fedchain.chain import find_anvil_binary
    from fedchain.chain.errors import AnvilError

    try:
        find_anvil_binary()
    except AnvilError as exc:
        pytest.skip(str(exc))
    task = TaskFile.from_dict({
        "task": {"max_clients": 3, "rounds": 1, "byzantine_f": 0, "committee_size": 1,
                 "submit_window": 8, "verdict_window": 8},
        "rewards": {"reward_unit": "0.0001 ether", "client_mortgage": MORTGAGE},
        "training": {"epochs": 1},
    })  # fmt: skip
    quitter = {"name": "dropout", "params": {"probability": 1.0}}
    s = run_simulation(
        SimConfig(task=task, miners=1, chain="anvil", attacks={2: quitter}, test_size=50)
    ).summary
    (row,) = s["rounds"]
    assert row["missing"] == [s["clients"][2]] and len(row["accepted"]) == 2
    assert s["balanced"] is True
    # Nobody can start the task before its join deadline (600 s by default) unless all 64 miner
    # seats are taken; once everyone joined, the simulation moves Anvil's clock past it rather
    # than wait (the round's windows are waited for in real time).
    assert s["wall_seconds"] < task.join_window


@pytest.mark.parametrize("f", [1, 2])
def test_honest_clients_of_an_attack_free_task_never_lose(f: int) -> None:
    """Multi-KRUM's cut leaves f honest updates out of every aggregate; none is penalised."""
    result = _run(_task(max_clients=6, byzantine_f=f), miners=3)
    s = result.summary
    assert s["malicious"] == []
    for row in s["rounds"]:
        assert row["accepted"] == s["clients"] and row["rejected"] == []
    for c in s["clients"]:
        gammas = s["reputation"][c]
        assert gammas == sorted(gammas)  # never falls
        p = s["payouts"][c]
        assert p["penalty"] == 0 and p["payout"] >= MORTGAGE + p["reward"] > MORTGAGE


def test_members_dissent_from_a_leader_that_aggregates_what_the_cut_left_out() -> None:
    """No attacker and f = 1: the cut leaves one honest update out of every aggregate. The
    faulty leader posts the right accepted set but averages every accepted update; its
    aggregated set (in the global model's verdict notes) is not the members', so no quorum."""
    # Committees where miner 0 leads with one seat: the other two seats dissent, so the next in
    # line replaces it at once (a verdict that cannot reach quorum).
    result = _run_where(
        _task(),
        lambda r: bool(_replaced_leaders(r))
        and all(row["leader"] != r.summary["miners"][0] for row in r.summary["rounds"]),
        miners=3, miner_faults={0: frozenset({"aggregate_all"})},
    )  # fmt: skip
    s = result.summary
    m0 = s["miners"][0]
    for row in s["rounds"]:
        assert row["leader"] != m0 and row["rejected"] == [] and len(row["left_out"]) == 1
    assert result.deployment is not None
    dissents = [
        e for e in result.deployment.tasks.events("VerdictAttested") if not e.args["agreed"]
    ]
    assert dissents
    slashed = result.deployment.tasks.events("StakeSlashed")
    # only the faulty miner pays: as leader for its failed verdict (3), and as a member for
    # dissenting from an honest verdict that was finalized (2), if the draw seated it so
    assert slashed and {e.args["miner"] for e in slashed} == {m0}
    reasons = {int(e.args["reason"]) for e in slashed}
    assert 3 in reasons and reasons <= {2, 3}
    assert s["payouts"][m0]["slashed"] > 0 and s["balanced"] is True
    for c in s["clients"]:  # honest clients lose nothing to the dishonest leader
        assert s["payouts"][c]["penalty"] == 0
