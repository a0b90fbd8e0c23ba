"""The Python mirror and the contracts agree to the wei (DESIGN.md: "a test holds the mirror and
the contract to the same numbers").

Everything expected here is computed by the mirror (``fedchain.verification.committee``,
``fedchain.incentives``) from the scripted verdict pattern; everything observed is read back
from the chain (events, views, the registry). Compared:

- M8 committee: every round's committee (the ``committee`` view and ``CommitteeDrawn``)
  against ``committee(round_seed(blockhash(seedBlock), task, round), miners, stakes, size)``
  with ``seedBlock`` from ``RoundOpened`` and the miners' join order and unequal stakes taken
  from ``MinerJoined`` (stake-weighted seats with replacement: a miner may hold several).
- M9 reputation: registry reputation (per requester) after settlement, ``TaskOutcomeApplied``,
  ``ClientSettled`` and ``previewClientSettlement`` against ``reputation_trajectory`` and
  ``scoped_reputation`` (honest, rejected at γ = h, above h, below h, missing rounds, the γmax
  cap, two tasks joined at the same reputation and settled one after the other, each adding
  its own trajectory's net change; another requester's scope unchanged).
- M10/M11 money: each client's reward, penalty, penalty share and payout, the leader's cut, the
  registry credits, the requester's refund and the withdrawals against ``round_payout`` summed
  over rounds and the integer ``settle_penalties``, for all four reward policies; a table of
  patterns through ``run_scenario`` and hypothesis-drawn patterns and weights on the fixture
  world; a cancelled task (finalized rounds pay, M11 over the rounds played); credits
  ``C = C_base + C_obtain`` (``update_credits``); miners' slashes (``slashed_stake``), burned.

Verdict patterns are strings per client, one letter per round: ``A`` accepted, ``R`` submitted
and rejected (lazy, q), ``M`` missing (temporary exit, p).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedchain.chain import Chain, TxResult
from fedchain.chain.deploy import deploy_fedchain
from fedchain.chain.events import DecodedEvent
from fedchain.chain.scenario import ScenarioConfig, run_scenario
from fedchain.chain.verdicts import BPS, indices
from fedchain.incentives import (
    data_amount_bps,
    reputation_delta,
    reputation_rewards,
    reputation_trajectory,
    round_payout,
    scoped_reputation,
    settle_penalties,
    slashed_stake,
    update_credits,
)
from fedchain.verification.sortition import committee as mirror_committee
from fedchain.verification.sortition import round_seed

from .conftest import CATEGORY, GAMMA_MAX, POLICY, STATUS, H, World, digest

# --- helpers ---------------------------------------------------------------------------------


def _by_round(patterns: Sequence[str]) -> list[list[str]]:
    """``patterns[i][r]`` (per client) -> ``[r][i]`` (per round)."""
    rounds = len(patterns[0])
    assert all(len(p) == rounds for p in patterns)
    return [[p[r] for p in patterns] for r in range(rounds)]


def _named(results: Sequence[TxResult], name: str) -> list[dict[str, Any]]:
    """The args of every ``name`` event in these transactions' receipts, in order."""
    return [e.args for res in results for e in res.events_named(name)]


def _settled(result: TxResult) -> dict[str, dict[str, Any]]:
    return {e["client"]: e for e in _named([result], "ClientSettled")}


def _recent_events(chain: Chain, since: int, labels: Sequence[str]) -> list[DecodedEvent]:
    """Decoded logs of the transactions sent since gas record ``since`` whose label ends with one
    of ``labels``, read block by block: eth-tester's ``eth_getLogs`` looks every receipt up by
    scanning back from the head, so one query over the whole task would be quadratic."""
    blocks = sorted(
        {rec.block_number for rec in chain.gas.records[since:] if rec.label.endswith(tuple(labels))}
    )
    return [e for b in blocks for e in chain.events(from_block=b, to_block=b)]


@dataclass(frozen=True)
class Expected:
    """The mirror's numbers for one task (per client, in join order)."""

    rewards: list[int]
    leader_cuts: list[int]  # per round
    penalties: list[int]
    shares: list[int]
    payouts: list[int]
    dust: int
    trajectories: list[list[int]]
    evaluations: list[int]  # bit r: accepted in round r


def mirror_task(
    patterns: Sequence[str],
    *,
    policy: str,
    initial: Sequence[int],
    h: int,
    gamma_max: int,
    reward_unit: int,
    per_round_reward: int,
    mortgage: int,
    weights: Sequence[Sequence[int]] | None = None,
    num_samples: Sequence[int] | None = None,
    rounds: int | None = None,
) -> Expected:
    """What the mirror says a task with these verdict patterns pays and records.

    ``weights[r]`` are the leader's basis points of round r (contribution; data amount when
    ``num_samples`` is None); with ``num_samples`` the data-amount weights are the mirror's own
    ``data_amount_bps``. ``rounds``: the task's v when the patterns cover only the rounds
    played before a cancellation (M11 charges ``mortgage / v`` per round played and missed).
    """
    n, played = len(patterns), len(patterns[0])
    v = played if rounds is None else rounds
    verdicts = [[c == "A" for c in p] for p in patterns]
    trajectories = [
        reputation_trajectory(g0, v, h=h, gamma_max=gamma_max)
        for g0, v in zip(initial, verdicts, strict=True)
    ]
    rewards, cuts = [0] * n, []
    for r in range(played):
        accepted = [verdicts[i][r] for i in range(n)]
        params: dict[str, Any] = {
            "reputations": [trajectories[i][r] for i in range(n)],
            "reward_unit": reward_unit,
            "threshold": h,
            "per_round_reward": per_round_reward,
        }
        if policy == "data_amount" and num_samples is not None:
            params["num_samples"] = num_samples
        elif weights is not None:
            params["weights_bps"] = weights[r]
        payout = round_payout(policy, accepted=accepted, **params)
        rewards = [a + b for a, b in zip(rewards, payout.clients, strict=True)]
        cuts.append(payout.leader)
    m11 = settle_penalties(
        mortgages=[mortgage] * n,
        missed=[p.count("M") for p in patterns],
        lazy=[p.count("R") for p in patterns],
        rounds=v,
    )
    penalties, shares, dust = m11.penalties, m11.shares, m11.refund
    payouts = [
        mortgage - pen + share + rew
        for pen, share, rew in zip(penalties, shares, rewards, strict=True)
    ]
    evaluations = [sum(1 << r for r, ok in enumerate(v) if ok) for v in verdicts]
    return Expected(rewards, cuts, penalties, shares, payouts, dust, trajectories, evaluations)


def play_patterns(
    world: World,
    task_id: int,
    patterns: Sequence[str],
    *,
    weights: Sequence[Sequence[int]] | None = None,
) -> list[TxResult]:
    """Play every round of ``task_id`` with the verdict patterns (World clients 0..n-1)."""
    results = []
    for r, row in enumerate(_by_round(patterns)):
        submitted = [i for i, c in enumerate(row) if c != "M"]
        accepted = [i for i, c in enumerate(row) if c == "A"]
        w = weights[r] if weights is not None else ()
        results.append(world.play(task_id, r, submitted, accepted, weights=w))
    return results


def assert_settlement(world: World, task_id: int, clients: Sequence[Any], exp: Expected) -> None:
    """``previewClientSettlement`` of every client (the task over, not yet settled) against the
    mirror: reward, penalty, share, payout and the evaluation bitmap with its counts."""
    for i, c in enumerate(clients):
        got = world.tasks.previewClientSettlement(task_id, c.address)
        assert (
            got.reward, got.penalty, got.penaltyShare, got.payout,
            got.evaluations, got.acceptedRounds, got.evaluatedRounds,
        ) == (
            exp.rewards[i], exp.penalties[i], exp.shares[i], exp.payouts[i],
            exp.evaluations[i], exp.evaluations[i].bit_count(), len(exp.trajectories[i]) - 1,
        ), f"client {i}"  # fmt: skip


# --- M8: committee ---------------------------------------------------------------------------


def _check_committees(
    world: World, task_id: int, size: int, joins: Sequence[TxResult], played: Sequence[TxResult]
) -> int:
    """Every opened round's committee against the mirror; returns how many were checked.

    The on-chain committee of round r must be ``committee(round_seed(blockhash(seedBlock),
    task, r), miners, stakes, size)`` with ``seedBlock`` the block that opened the round (from
    ``RoundOpened``), the miners in join order and their stakes (from ``MinerJoined``): in the
    ``committee`` view, and in the ``CommitteeDrawn`` event (with the same seed) that the
    round's ``postVerdict`` emitted. ``played``: the start and every round's verdict.
    """
    joined = sorted(_named(joins, "MinerJoined"), key=lambda e: e["index"])
    miners = [e["miner"] for e in joined]
    stakes = [int(e["stake"]) for e in joined]
    assert [tuple(world.tasks.minerAt(task_id, j)) for j in range(len(miners))] == list(
        zip(miners, stakes, strict=True)
    )
    assert len(set(stakes)) > 1, "the stakes must differ for the check to mean something"
    opened = [e for res in played for e in res.events_named("RoundOpened")]
    drawn = {int(e["round"]): e for e in _named(played, "CommitteeDrawn")}
    assert all(e.args["taskId"] == task_id for e in opened)
    assert all(e["taskId"] == task_id for e in drawn.values())
    assert [int(e.args["round"]) for e in opened] == sorted(drawn)
    for ev in opened:
        r, seed_block = int(ev.args["round"]), int(ev.args["seedBlock"])
        assert seed_block == ev.block_number == int(world.tasks.seedBlockOf(task_id, r))
        block_hash = world.chain.block_hash(seed_block)
        assert block_hash is not None and block_hash != bytes(32)
        seed = round_seed(block_hash, task_id, r)
        expected = mirror_committee(seed, miners, stakes, size)
        assert len(expected) == size  # size seats, repeats allowed
        assert bytes(drawn[r]["seed"]) == seed, f"task {task_id} round {r}"
        assert list(drawn[r]["committee"]) == expected, f"task {task_id} round {r}"
        assert list(world.tasks.committee(task_id, r)) == expected
        # and the seed is keccak256(abi.encode(blockhash(seedBlock), taskId, round))
        assert seed == keccak(encode(["bytes32", "uint256", "uint256"], [block_hash, task_id, r]))
    return len(opened)


def test_committee_equals_mirror_with_unequal_stakes(eworld: World) -> None:
    w = eworld
    checked, repeats = 0, 0
    # (committee size, miners in join order, stakes in units of 1e15 wei, rounds)
    cases = [
        (3, [3, 0, 4, 1, 2], [1, 7, 2, 1, 4], 4),
        (2, [1, 2, 0], [9, 1, 3], 3),  # one miner holds 9/13 of the stake: it repeats
        (5, [4, 2, 3, 0, 1], [2, 5, 1, 3, 1], 3),  # size == miners: round 0 repeats a miner
        (1, [0, 1, 2, 3, 4], [1, 2, 3, 4, 5], 3),
    ]
    for size, order, units, rounds in cases:
        task_id, _ = w.create(
            committeeSize=size, rounds=rounds, clientMortgage=rounds * 10**14, minMinerStake=10**12
        )
        joins = [
            w.tasks.joinAsMiner(task_id, u * 10**15, sender=w.miners[j])
            for j, u in zip(order, units, strict=True)
        ]
        w.join(task_id, clients=[0, 1], miners=[])
        if size == len(order):  # make sure the check sees a repeated miner on chain
            played = [w.until(lambda t=task_id: w.start(t), lambda t=task_id: not w.distinct(t, 0))]
        else:
            played = [w.start(task_id)]
        for r in range(rounds):
            seats = w.committee(task_id, r)
            repeats += len(set(seats)) < len(seats)
            played.append(w.play(task_id, r, [0, 1], [0, 1]))
        assert int(w.tasks.taskInfo(task_id).status) == STATUS["Finished"]
        checked += _check_committees(w, task_id, size, joins, played)
    assert checked == sum(c[3] for c in cases)
    assert repeats > 0


# --- M9: reputation --------------------------------------------------------------------------

# Task 1 shapes the reputations (γ0 = h for everyone); tasks 2 and 3 are joined by the same
# clients at the same reputations, played one after the other and settled 2 then 3: each pays
# rewards along its own trajectory from the reputation at join, and the registry adds each
# task's net change (end - start of its trajectory) to the client's score with the requester.
TASK1 = ["AAAA", "RAMA", "AARM", "MRAR", "AMAA"]
TASK2 = ["RRR", "AAA", "RAA", "AAA", "MMM"]
TASK3 = ["AAA", "RRA", "ARM", "MAR", "RAA"]


SMALL_BASE_CREDITS = 1_000


@pytest.fixture(scope="module")
def small_gamma_world(embedded_world: World) -> Iterator[World]:
    """A second deployment on the embedded chain with γmax = 7, h = 3 (the cap is reached) and
    C_base = 1,000 wei of credits at registration."""
    w = embedded_world
    snap = w.chain.snapshot()
    d = deploy_fedchain(
        w.chain, deployer=w.requester, gamma_max=7, threshold=3, base_credits=SMALL_BASE_CREDITS
    )
    for i, c in enumerate(w.clients):
        d.registry.registerClient(sender=c)
        profile = {
            "category": CATEGORY, "dataType": digest("image"), "size": 100 + i,
            "nameHash": digest("name", i), "contentHash": digest("data", i),
            "timestamp": 1_700_000_000, "location": digest("loc"),
        }  # fmt: skip
        d.registry.addDataProfile(profile, sender=c)
        d.tasks.deposit(sender=c, value=10**17)
    for m in w.miners:
        d.registry.registerMiner(sender=m)
        d.tasks.deposit(sender=m, value=10**17)
    try:
        yield World(w.chain, d, w.requester, w.clients, w.miners, w.outsider)
    finally:
        w.chain.revert(snap)


@pytest.mark.parametrize("which", ["gamma_max=100,h=5", "gamma_max=7,h=3"])
def test_reputation_equals_trajectory(
    which: str, embedded_world: World, small_gamma_world: World
) -> None:
    w = embedded_world if which.startswith("gamma_max=100") else small_gamma_world
    h, gamma_max = int(w.d.params["threshold"]), int(w.d.params["gamma_max"])
    assert (gamma_max, h) == ((GAMMA_MAX, H) if w is embedded_world else (7, 3))
    snap = w.chain.snapshot()
    try:
        _reputation_run(w, h=h, gamma_max=gamma_max)
    finally:
        w.chain.revert(snap)


def _reputation_run(w: World, *, h: int, gamma_max: int) -> None:
    n = len(TASK1)
    clients = w.clients[:n]
    unit = 10**12
    requester, other = w.requester.address, w.outsider.address

    def scoped(who: str) -> list[int]:
        return [int(w.registry.reputationOf(c.address, who)) for c in clients]

    start = scoped(requester)
    assert start == [h] * n == scoped(other)  # registration gives γ = h in every scope
    deltas: list[list[int]] = [[] for _ in range(n)]  # each client's settled tasks' net changes

    def run(task_id: int, patterns: list[str], initial: list[int]) -> Expected:
        info = w.tasks.taskInfo(task_id)
        members = [w.tasks.memberOf(task_id, c.address) for c in clients]
        assert [m.reputationAtJoin for m in members] == initial
        assert [m.index for m in members] == list(range(n))
        play_patterns(w, task_id, patterns)
        assert w.tasks.taskInfo(task_id).status == STATUS["Finished"]
        exp = mirror_task(
            patterns, policy="reputation", initial=initial, h=h, gamma_max=gamma_max,
            reward_unit=unit, per_round_reward=int(info.perRoundReward),
            mortgage=int(info.clientMortgage),
        )  # fmt: skip
        assert_settlement(w, task_id, clients, exp)
        for i, p in enumerate(patterns):  # the per-round helper says the same
            per_round = reputation_rewards(
                initial[i], [x == "A" for x in p], h=h, gamma_max=gamma_max, unit=unit
            )
            assert sum(per_round) == exp.rewards[i]
        return exp

    def settle(task_id: int, patterns: list[str], exp: Expected, joined_at: list[int]) -> list[int]:
        before = scoped(requester)
        assert before == [scoped_reputation(d, h=h, gamma_max=gamma_max) for d in deltas]
        result = w.settle_all(task_id, range(n), range(3))
        settled = _settled(result)
        applied = {e["participant"]: e for e in _named([result], "TaskOutcomeApplied")}
        assert all(e["taskId"] == task_id and e["requester"] == requester
                   for e in applied.values())  # fmt: skip
        after = []
        for i, c in enumerate(clients):
            # The registry adds the task's own net change (from the reputation at join) to the
            # score in the requester's scope, clamped to [0, γmax] when read.
            verdicts = [x == "A" for x in patterns[i]]
            delta = reputation_delta(joined_at[i], verdicts, h=h, gamma_max=gamma_max)
            assert delta == exp.trajectories[i][-1] - joined_at[i]
            deltas[i].append(delta)
            final = scoped_reputation(deltas[i], h=h, gamma_max=gamma_max)
            assert settled[c.address]["reputation"] == final, f"client {i}"
            assert (applied[c.address]["previous"], applied[c.address]["current"]) == (
                before[i],
                final,
            )
            assert applied[c.address]["earned"] == exp.rewards[i]
            assert w.registry.reputationOf(c.address, requester) == final
            after.append(final)
        assert scoped(other) == [h] * n  # another requester's scope never moves
        return after

    t1, _ = w.setup(clients=n, miners=3, rounds=4, clientMortgage=4 * 10**14, rewardUnit=unit)
    e1 = run(t1, TASK1, start)
    after1 = settle(t1, TASK1, e1, start)
    assert after1 == [t[-1] for t in e1.trajectories]  # from h, the sum is the trajectory's end
    # Two tasks joined at the same reputations; task 3 starts once task 2 is over.
    t2, _ = w.create(rounds=3, rewardUnit=unit)
    t3, _ = w.create(rounds=3, rewardUnit=unit)
    w.join(t2, range(n), range(3))
    w.join(t3, range(n), range(3))
    w.start(t2)
    e2 = run(t2, TASK2, after1)
    w.start(t3)
    e3 = run(t3, TASK3, after1)  # task 3's rewards follow γ at join, not task 2's outcome
    after2 = settle(t2, TASK2, e2, after1)
    after3 = settle(t3, TASK3, e3, after1)  # its change is measured from γ at join
    additive = [
        scoped_reputation(
            [
                reputation_delta(h, [c == "A" for c in p1], h=h, gamma_max=gamma_max),
                reputation_delta(g, [c == "A" for c in p2], h=h, gamma_max=gamma_max),
                reputation_delta(g, [c == "A" for c in p3], h=h, gamma_max=gamma_max),
            ],
            h=h, gamma_max=gamma_max,
        )
        for g, p1, p2, p3 in zip(after1, TASK1, TASK2, TASK3, strict=True)
    ]  # fmt: skip
    assert after3 == additive
    assert after2 != after3
    # The registry adds net changes; it does not replay task 3 from task 2's end (the earlier
    # rule), and the patterns tell the two apart. Clamping at 0 happens on read only.
    sequential = [
        reputation_trajectory(g2, [c == "A" for c in p3], h=h, gamma_max=gamma_max)[-1]
        for g2, p3 in zip(after2, TASK3, strict=True)
    ]
    assert sequential != after3
    raw = [h + sum(d) for d in deltas]
    assert any(x < 0 for x in raw) and after3 == [min(gamma_max, max(0, x)) for x in raw]
    # Credits (002 eq. 12): C = C_base + C_obtain, every reward earned.
    base = int(w.d.params["base_credits"])
    assert base == (SMALL_BASE_CREDITS if gamma_max == 7 else 0)
    credits = update_credits(
        {c.address: base for c in clients},
        {c.address: e1.rewards[i] + e2.rewards[i] + e3.rewards[i] for i, c in enumerate(clients)},
    )
    assert {c.address: w.registry.creditsOf(c.address) for c in clients} == credits
    # The patterns exercise what they claim to (so the test cannot silently lose a case).
    seen = set()
    for exp, patterns in ((e1, TASK1), (e2, TASK2), (e3, TASK3)):
        for traj, p in zip(exp.trajectories, patterns, strict=True):
            for g, c in zip(traj, p, strict=False):
                band = "<h" if g < h else "=h" if g == h else ">h"
                seen.add((c, band))
                if c == "A" and g == gamma_max:
                    seen.add(("A", "cap"))
    wanted = {(c, b) for c in "ARM" for b in ("<h", "=h", ">h")}
    assert wanted <= seen, wanted - seen
    if gamma_max == 7:
        assert ("A", "cap") in seen


# --- M10/M11: payouts through the shared scenario ------------------------------------------------

SCENARIO_PATTERNS = {
    "mixed": ["AAA", "RAA", "AMR", "MMA"],
    "one_clean": ["AARA", "MAAA", "AAAA"],
    "empty_round": ["RAM", "MAA", "RRA", "MAA", "RMA"],  # round 0 accepts nobody
}
SCENARIO_CASES = [
    (policy, name)
    for policy in ("reputation", "fixed", "contribution", "data_amount")
    for name in SCENARIO_PATTERNS
    if name != "empty_round" or policy in ("contribution", "data_amount")
]


def _scenario_sets(patterns: Sequence[str]) -> tuple[frozenset, frozenset]:
    rejected = {(r, i) for i, p in enumerate(patterns) for r, c in enumerate(p) if c == "R"}
    missing = {(r, i) for i, p in enumerate(patterns) for r, c in enumerate(p) if c == "M"}
    return frozenset(rejected), frozenset(missing)


@pytest.mark.parametrize(("policy", "name"), SCENARIO_CASES)
def test_scenario_payouts_equal_mirror(eworld: World, policy: str, name: str) -> None:
    patterns = SCENARIO_PATTERNS[name]
    rejected, missing = _scenario_sets(patterns)
    cfg = ScenarioConfig(
        clients=len(patterns), miners=3, rounds=len(patterns[0]), committee_size=2,
        policy=policy, rejected=rejected, missing=missing, seed=7,
    )  # fmt: skip
    chain, d = eworld.chain, eworld.d
    since = len(chain.gas.records)
    res = run_scenario(chain, cfg, deployment=d)
    task, tasks = res.task_id, d.tasks
    labels = ["startTask", "submitUpdatesBySig", "postVerdict", "settleMany", "withdraw"]
    logs = [e for e in _recent_events(chain, since, labels) if e.address == tasks.address]

    def named(event: str) -> list[dict[str, Any]]:
        found = [e.args for e in logs if e.name == event]
        assert all(e.get("taskId", task) == task for e in found)
        return found

    h, gamma_max = int(d.params["threshold"]), int(d.params["gamma_max"])
    n, mortgage = cfg.clients, cfg.mortgage_per_round * cfg.rounds
    # The scenario's contribution weights: an equal split among the accepted clients.
    weights = []
    for row in _by_round(patterns):
        ok = [c == "A" for c in row]
        share = BPS // max(1, sum(ok))
        weights.append([share if a else 0 for a in ok])
    submitted = named("UpdateSubmitted")
    samples = {e["client"]: int(e["numSamples"]) for e in submitted}
    exp = mirror_task(
        patterns, policy=policy, initial=[h] * n, h=h, gamma_max=gamma_max,
        reward_unit=cfg.reward_unit, per_round_reward=cfg.reward_per_round, mortgage=mortgage,
        weights=weights, num_samples=[samples.get(c, 0) for c in res.clients],
    )  # fmt: skip
    # The leader's posted weights are what the mirror derives (data amount: from the samples the
    # clients declared in UpdateSubmitted; contribution: the scenario's equal split).
    for ev in named("VerdictPosted"):
        r, verdict = int(ev["round"]), ev["verdict"]
        accepted = [c == "A" for c in _by_round(patterns)[r]]
        assert indices(verdict["accepted"]) == [i for i, a in enumerate(accepted) if a]
        if policy == "data_amount":
            declared = [samples.get(c, 0) for c in res.clients]
            assert list(verdict["weights"]) == data_amount_bps(declared, accepted=accepted)
        elif policy == "contribution":
            assert list(verdict["weights"]) == weights[r]
        else:
            assert list(verdict["weights"]) == []
    settled = {e["client"]: e for e in named("ClientSettled")}
    got = [settled[c] for c in res.clients]
    assert [e["reward"] for e in got] == exp.rewards
    assert [e["penalty"] for e in got] == exp.penalties
    assert [e["penaltyShare"] for e in got] == exp.shares
    assert [e["payout"] for e in got] == exp.payouts
    assert [e["reputation"] for e in got] == [t[-1] for t in exp.trajectories]
    assert res.final_reputations == [t[-1] for t in exp.trajectories]
    # The scenario's own per-round M9 bookkeeping follows the same trajectories.
    assert [o.reputations for o in res.rounds] == [
        [t[r + 1] for t in exp.trajectories] for r in range(cfg.rounds)
    ]
    assert [d.registry.creditsOf(c) for c in res.clients] == exp.rewards
    # The leader's cut (contribution only), paid at each finalization to the leader of the
    # attempt that posted: seat 0 of the committee drawn when it posted (no replacements here).
    drawn = {int(e["round"]): list(e["committee"]) for e in named("CommitteeDrawn")}
    assert sorted(drawn) == list(range(cfg.rounds))
    assert all(len(c) == cfg.committee_size for c in drawn.values())
    posted = {int(e["round"]): e for e in named("VerdictPosted")}
    assert all(int(e["attempt"]) == 0 for e in posted.values())
    leaders = {r: c[0] for r, c in drawn.items()}
    assert {r: e["leader"] for r, e in posted.items()} == leaders
    rewarded = named("LeaderRewarded")
    cuts: dict[str, int] = defaultdict(int)
    for e in rewarded:
        assert e["leader"] == leaders[int(e["round"])]
        assert e["amount"] == exp.leader_cuts[int(e["round"])]
        cuts[e["leader"]] += int(e["amount"])
    assert len(rewarded) == (cfg.rounds if policy == "contribution" else 0)
    assert sum(cuts.values()) == sum(exp.leader_cuts)
    for m in res.miners:
        assert d.registry.creditsOf(m) == cuts.get(m, 0)
    # Requester: escrow - what was paid (clients and leaders) + the M11 floor-division dust.
    escrow = cfg.rounds * cfg.reward_per_round
    refund = escrow - sum(exp.rewards) - sum(exp.leader_cuts) + exp.dust
    assert [e["amount"] for e in named("RequesterRefunded")] == [refund]
    assert res.refunded == refund and res.escrow == escrow
    # What each one then withdrew (pull payments) is exactly what it was credited.
    withdrawn = {e["account"]: int(e["amount"]) for e in named("Withdrawn")}
    assert [withdrawn[c] for c in res.clients] == exp.payouts
    assert [withdrawn[m] for m in res.miners] == [cfg.miner_stake + cuts.get(m, 0)
                                                  for m in res.miners]  # fmt: skip
    assert withdrawn[eworld.requester.address] == refund


# --- M10/M11: hypothesis-drawn patterns and weights on the fixture world -----------------------


@st.composite
def _cases(draw: st.DrawFn) -> tuple[str, list[str], list[list[int]]]:
    n = draw(st.integers(3, 5))
    rounds = draw(st.integers(2, 4))
    policy = draw(st.sampled_from(["reputation", "fixed", "contribution", "data_amount"]))
    patterns = [draw(st.text("AARM", min_size=rounds, max_size=rounds)) for _ in range(n)]
    weights = []
    for row in _by_round(patterns):
        raw = [draw(st.integers(0, 50)) if c == "A" else 0 for c in row]
        budget = draw(st.integers(0, BPS))
        weights.append([budget * x // max(1, sum(raw)) for x in raw])
    return policy, patterns, weights


@pytest.mark.slow
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_cases())
def test_drawn_payouts_equal_mirror(
    embedded_world: World, case: tuple[str, list[str], list[list[int]]]
) -> None:
    policy, patterns, weights = case
    w = embedded_world
    snap = w.chain.snapshot()
    try:
        _drawn_run(w, policy, patterns, weights)
    finally:
        w.chain.revert(snap)


def _drawn_run(w: World, policy: str, patterns: list[str], weights: list[list[int]]) -> None:
    n, rounds = len(patterns), len(patterns[0])
    mortgage, unit = rounds * 10**14, 10**12
    per_round = 10**15 + 7  # not a multiple of n + 1: the leader's floor division shows
    task, _ = w.setup(
        clients=n, miners=3, committeeSize=2, rounds=rounds, clientMortgage=mortgage,
        perRoundReward=per_round, rewardUnit=unit if policy in ("reputation", "fixed") else 0,
        policy=POLICY[policy],
    )  # fmt: skip
    samples = [100 + i for i in range(n)]  # what World.submit declares
    if policy == "data_amount":
        played = [data_amount_bps(samples, accepted=[c == "A" for c in row])
                  for row in _by_round(patterns)]  # fmt: skip
    elif policy == "contribution":
        played = weights
    else:
        played = None
    results = play_patterns(w, task, patterns, weights=played)
    exp = mirror_task(
        patterns, policy=policy, initial=[H] * n, h=H, gamma_max=GAMMA_MAX, reward_unit=unit,
        per_round_reward=per_round, mortgage=mortgage, weights=weights,
        num_samples=samples if policy == "data_amount" else None,
    )  # fmt: skip
    clients = w.clients[:n]
    assert_settlement(w, task, clients, exp)
    cuts = [sum(int(e.args["amount"]) for e in res.events_named("LeaderRewarded"))
            for res in results]  # fmt: skip
    assert cuts == exp.leader_cuts
    before = int(w.tasks.balanceOf(w.requester.address))
    result = w.settle_all(task, range(n), range(3))
    settled = _settled(result)
    assert [settled[c.address]["payout"] for c in clients] == exp.payouts
    assert [settled[c.address]["reputation"] for c in clients] == [t[-1] for t in exp.trajectories]
    refund = rounds * per_round - sum(exp.rewards) - sum(exp.leader_cuts) + exp.dust
    assert 0 <= exp.dust < n  # each share's floor loses less than one wei
    assert result.event("RequesterRefunded").args["amount"] == refund
    assert int(w.tasks.balanceOf(w.requester.address)) - before == refund
    assert w.tasks.taskPot(task) == 0
    assert w.chain.balance(w.tasks.address) == w.owed_total()


def test_cancelled_task_pays_finalized_rounds_and_m11_over_them(eworld: World) -> None:
    """Cancellation: rewards and reputation of the finalized rounds only, and M11 over the
    rounds played (``mortgage / v`` per finalized round a client was not accepted in, shared
    by the others); a silent last leader is slashed and its slash burned."""
    w = eworld
    patterns_done = ["AR", "RA", "MA", "AM"]  # two rounds finalized out of four
    n, v, mortgage = len(patterns_done), 4, 4 * 10**14
    task, _ = w.setup(clients=n, miners=1, committeeSize=1, rounds=v, clientMortgage=mortgage)
    play_patterns(w, task, patterns_done)
    w.chain.increase_time(201)  # round 2 stalls: no leader left
    cancelled = w.tasks.cancelTask(task, sender=w.requester)
    # The sole leader never posted round 2: slashed once.
    miner, stake = w.tasks.minerAt(task, 0)
    slashed = slashed_stake(stake=stake, offenses=1, slash_bps=int(w.tasks.slashBps()))
    assert [(e.args["miner"], e.args["reason"], e.args["amount"])
            for e in cancelled.events_named("StakeSlashed")] == [(miner, 1, slashed)]  # fmt: skip
    exp = mirror_task(
        patterns_done, policy="reputation", initial=[H] * n, h=H, gamma_max=GAMMA_MAX,
        reward_unit=10**12, per_round_reward=10**15, mortgage=mortgage, rounds=v,
    )  # fmt: skip
    assert exp.penalties == [mortgage // v] * n  # each missed one of the two rounds played
    assert all(x > 0 for x in exp.shares)
    assert_settlement(w, task, w.clients[:n], exp)
    before = int(w.tasks.balanceOf(w.requester.address))
    burned = int(w.tasks.burnedStake())
    result = w.settle_all(task, range(n), range(1))
    settled = _settled(result)
    assert [settled[c.address]["reputation"] for c in w.clients[:n]] == [
        t[-1] for t in exp.trajectories
    ]
    assert [settled[c.address]["payout"] for c in w.clients[:n]] == exp.payouts
    [miner_settled] = _named([result], "MinerSettled")
    assert (miner_settled["slashed"], miner_settled["payout"]) == (slashed, stake - slashed)
    assert int(w.tasks.burnedStake()) - burned == slashed
    assert [(e["miner"], e["amount"]) for e in _named([result], "StakeBurned")] == [
        (miner, slashed)
    ]
    refund = v * 10**15 - sum(exp.rewards) + exp.dust  # the slash is not the requester's
    assert int(w.tasks.balanceOf(w.requester.address)) - before == refund
    assert w.tasks.taskPot(task) == 0
    assert w.chain.balance(w.tasks.address) == w.owed_total()


def test_slashes_equal_mirror(eworld: World) -> None:
    """Dissent and a leader that never posts: ``MinerSettled.slashed`` is ``slashed_stake``,
    each offense counted per miner (8-bit counters), and every slash burned."""
    w = eworld
    floor = int(w.tasks.limits().minStakeFloor)
    task, _ = w.create(committeeSize=3, rounds=3, clientMortgage=3 * 10**14, minMinerStake=floor)
    stakes = [4 * 10**15, 10**15, 3 * 10**15]
    for j, stake in enumerate(stakes):
        w.tasks.joinAsMiner(task, stake, sender=w.miners[j])
    w.join(task, clients=[0, 1], miners=[])
    slashes: list[TxResult] = []
    # Round 0: one member dissents, the other approves; the dissenter is slashed.
    w.until(lambda: w.start(task), lambda: w.distinct(task, 0))  # three different members
    w.submit(task, 0, [0, 1])
    leader, a, b = w.committee(task, 0)
    w.tasks.postVerdict(task, 0, w.verdict(task, 0, [0, 1], [0, 1]), [], sender=leader)
    w.tasks.attestVerdict(task, 0, b"\x01" * 32, sender=a)
    slashes.append(w.tasks.attestVerdict(task, 0, w.tasks.pendingVerdictHash(task), sender=b))
    # Rounds 1 and 2: the leader never posts and is replaced (one offense each time); the next
    # seat posts, with the attestation of seat 2 unless it holds that seat too.
    for r in (1, 2):
        w.submit(task, r, [0, 1])
        committee = w.committee(task, r)
        w.chain.increase_time(201)
        slashes.append(w.tasks.replaceLeader(task, sender=w.outsider))
        verdict = w.verdict(task, r, [0, 1], [0, 1])
        signers = [committee[2]] if committee[2] != committee[1] else []
        sigs = w.attestations(task, r, verdict, signers)
        res = w.tasks.postVerdict(task, r, verdict, sigs, sender=committee[1])
        assert res.events_named("RoundFinalized")
    reasons = [(e["miner"], e["reason"]) for e in _named(slashes, "StakeSlashed")]
    assert reasons[0] == (a.address, 2) and [x[1] for x in reasons[1:]] == [1, 1]
    offenses: dict[str, int] = defaultdict(int)
    for miner, _ in reasons:
        offenses[miner] += 1
    assert sum(offenses.values()) == 3
    before = int(w.tasks.balanceOf(w.requester.address))
    burned = int(w.tasks.burnedStake())
    result = w.settle_all(task, range(2), range(3))
    settled = {e["miner"]: e for e in _named([result], "MinerSettled")}
    total = 0
    for j, m in enumerate(w.miners[:3]):
        k = offenses.get(m.address, 0)
        assert w.tasks.offensesOf(task, j) == k
        expected = slashed_stake(stake=stakes[j], offenses=k, slash_bps=int(w.tasks.slashBps()))
        assert (settled[m.address]["slashed"], settled[m.address]["payout"]) == (
            expected,
            stakes[j] - expected,
        )
        total += expected
    assert total > 0
    # Slashed stake is burned: the requester gets its refund only (all clients accepted: no
    # M11 dust), and the contract still holds every wei it owes (burned stake included).
    burns = {e["miner"]: int(e["amount"]) for e in _named([result], "StakeBurned")}
    assert sum(burns.values()) == total == int(w.tasks.burnedStake()) - burned
    rewards = sum(int(e["reward"]) for e in _named([result], "ClientSettled"))
    refund = int(w.tasks.balanceOf(w.requester.address)) - before
    assert refund == 3 * 10**15 - rewards
    assert w.chain.balance(w.tasks.address) == w.owed_total()
