"""A task's story told from its events alone: rounds, verdicts, reputation, money.

:func:`task_outcome` rebuilds, from a :class:`~fedchain.roles.chainview.TaskLog`, what
``fedchain task status``, the demo's round table and its JSON report show: per round the
committee, leader, attempts, accepted / rejected / missing clients, the global model's CID and
what each accepted client earned; every client's reputation after each round (the M9 rule
applied from its reputation at join, :mod:`fedchain.incentives`); and, once settled, where the
money went, with the balance checks:

- ``escrow``: ``deposited == paid + refunded`` where ``paid`` is every reward credited (clients
  and contribution-policy leaders) and ``refunded`` the unearned part returned to the requester;
- ``conservation``: everything locked for the task (escrow, mortgages, stakes) equals
  everything credited back (clients' and miners' payouts, leaders' rewards, the requester's
  refund, which also carries the M11 rounding dust) plus the slashed stake, which is burned
  (``StakeBurned``: it goes to nobody, so no requester gains from slashing its miners).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fedchain.chain.events import DecodedEvent
from fedchain.chain.policies import POLICY_NAMES
from fedchain.chain.verdicts import indices
from fedchain.incentives import next_reputation, round_payout
from fedchain.roles.chainview import TaskLog, TaskState
from fedchain.storage import digest_to_cid

__all__ = ["RoundRow", "TaskOutcome", "empty_rounds", "no_model_reason", "task_outcome"]


@dataclass
class RoundRow:
    """One finalized round.

    ``left_out`` (accepted clients the rule's cut kept out of the aggregate) and ``reasons``
    (client → why it was rejected or left out) are not events: whoever holds the store fills
    them from the global model's verdict notes (:func:`fedchain.roles.blobs.
    read_verdict_notes`); None when nobody did.
    """

    round: int
    committee: list[str]
    leader: str
    attempts: int
    accepted: list[str]
    rejected: list[str]
    missing: list[str]
    global_model: str
    rewards: dict[str, int]
    gas: int = 0
    accuracy: float | None = None
    left_out: list[str] | None = None
    reasons: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form (addresses checksummed, wei as integers)."""
        out: dict[str, Any] = {
            "round": self.round, "leader": self.leader, "committee": self.committee,
            "attempts": self.attempts, "accepted": self.accepted, "rejected": self.rejected,
            "missing": self.missing, "accuracy": self.accuracy, "global_model": self.global_model,
            "rewards": self.rewards, "gas": self.gas, "left_out": self.left_out,
            "reasons": self.reasons,
        }  # fmt: skip
        return out


@dataclass
class TaskOutcome:
    """What happened in a task, as far as it got."""

    task_id: int
    status: str
    requester: str
    clients: list[str]
    miners: list[str]
    rounds: list[RoundRow]
    reputation: dict[str, list[int]]
    payouts: dict[str, dict[str, Any]] = field(default_factory=dict)
    escrow: dict[str, int] = field(default_factory=dict)
    stakes: dict[str, int] = field(default_factory=dict)
    settled: bool = False
    balanced: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by ``--json`` outputs and the run directory."""
        return {
            "task_id": self.task_id, "status": self.status, "requester": self.requester,
            "clients": self.clients, "miners": self.miners,
            "rounds": [r.to_json() for r in self.rounds], "reputation": self.reputation,
            "payouts": self.payouts, "escrow": self.escrow, "stakes": self.stakes,
            "settled": self.settled, "balanced": self.balanced,
        }  # fmt: skip


def empty_rounds(result: Mapping[str, Any]) -> list[int]:
    """The finalized rounds (on-chain index, from 0) in which no client submitted, from the
    outcome JSON (:meth:`TaskOutcome.to_json`)."""
    return [
        int(row["round"])
        for row in result.get("rounds") or ()
        if not row.get("accepted") and not row.get("rejected")
    ]


def no_model_reason(result: Mapping[str, Any]) -> str | None:
    """Why the task produced no trained model, or None when it did (outcome JSON).

    A task produces a model when it finished and at least one round accepted an update; a
    cancelled task, or one whose every round accepted nothing, ends with the initial model.
    """
    status = result.get("status")
    if status == "cancelled":
        return "it was cancelled"
    if status != "finished":
        return f"it has not finished (it is {status})"
    rounds = list(result.get("rounds") or ())
    if not any(row.get("accepted") for row in rounds):
        if len(empty_rounds(result)) == len(rounds):
            return "no client submitted an update in any round"
        return "no round accepted any update"
    return None


def _finalized_verdict(log: TaskLog, final: DecodedEvent) -> DecodedEvent:
    """The ``VerdictPosted`` event whose verdict the round's ``RoundFinalized`` made final."""
    return next(
        e
        for e in reversed(log.events("VerdictPosted", round=int(final.args["round"])))
        if bytes(e.args["verdictHash"]) == bytes(final.args["verdictHash"])
    )


def task_outcome(log: TaskLog, state: TaskState, *, threshold: int, gamma_max: int) -> TaskOutcome:
    """Rebuild a task's outcome from its events (call ``log.refresh()`` first).

    Args:
        log: the task's events.
        state: the task now (:func:`~fedchain.roles.chainview.read_task`).
        threshold, gamma_max: the registry's M9 parameters (h, γmax).
    """
    clients, miners = log.clients(), log.miners()
    joined = {str(e.args["client"]): int(e.args["reputation"]) for e in log.events("ClientJoined")}
    gammas = [joined[c] for c in clients]
    reputation: dict[str, list[int]] = {c: [] for c in clients}
    policy = POLICY_NAMES[state.policy]
    rows: list[RoundRow] = []
    for final in sorted(log.events("RoundFinalized"), key=lambda e: e.sort_key):
        r = int(final.args["round"])
        drawn = log.last("CommitteeDrawn", round=r)  # a verdict draws it before it is posted
        committee = [str(a) for a in drawn.args["committee"]] if drawn is not None else []
        posted = _finalized_verdict(log, final)
        leader, attempts = str(posted.args["leader"]), int(posted.args["attempt"]) + 1
        verdict = posted.args["verdict"]
        submitted = set(indices(int(verdict["submitted"])))
        accepted = set(indices(int(verdict["accepted"])))
        mask = [i in accepted for i in range(len(clients))]
        submissions = log.submissions(r)
        fixed = log.client_samples()  # a claim weighs at most what the client declared at join
        samples = [
            min(int(submissions[a.lower()].args["numSamples"]), fixed.get(a.lower(), 0))
            if a.lower() in submissions else 0
            for a in clients
        ]  # fmt: skip
        payout = round_payout(
            policy, accepted=mask, reputations=gammas, reward_unit=state.reward_unit,
            threshold=threshold, per_round_reward=state.per_round_reward,
            weights_bps=[int(w) for w in verdict["weights"]] or None, num_samples=samples,
        )  # fmt: skip
        rows.append(
            RoundRow(
                round=r,
                committee=committee,
                leader=leader,
                attempts=attempts,
                accepted=[clients[i] for i in sorted(accepted)],
                rejected=[clients[i] for i in sorted(submitted - accepted)],
                missing=[c for i, c in enumerate(clients) if i not in submitted],
                global_model=digest_to_cid(
                    bytes(final.args["globalModel"]), int(final.args["codec"])
                ),
                rewards={clients[i]: payout.clients[i] for i in sorted(accepted)},
            )
        )
        gammas = [
            next_reputation(g, ok, h=threshold, gamma_max=gamma_max)
            for g, ok in zip(gammas, mask, strict=True)
        ]
        for c, g in zip(clients, gammas, strict=True):
            reputation[c].append(g)
    outcome = TaskOutcome(
        task_id=log.task_id, status=state.status.name.lower(), requester=state.requester,
        clients=clients, miners=miners, rounds=rows, reputation=reputation,
    )  # fmt: skip
    _money(log, state, outcome)
    return outcome


def _money(log: TaskLog, state: TaskState, outcome: TaskOutcome) -> None:
    created = log.last("TaskCreated")
    escrow = int(created.args["escrow"]) if created is not None else 0
    payouts: dict[str, dict[str, Any]] = {}
    leader_rewards: dict[str, int] = {}
    for e in log.events("LeaderRewarded"):
        leader = str(e.args["leader"])
        leader_rewards[leader] = leader_rewards.get(leader, 0) + int(e.args["amount"])
    for e in log.events("ClientSettled"):
        payouts[str(e.args["client"])] = {
            "role": "client", "reward": int(e.args["reward"]), "penalty": int(e.args["penalty"]),
            "penalty_share": int(e.args["penaltyShare"]), "slashed": 0,
            "payout": int(e.args["payout"]), "reputation": int(e.args["reputation"]),
        }  # fmt: skip
    members = {m.lower() for m in outcome.miners}  # a miner outbid or gone was refunded then
    stakes = {
        str(e.args["miner"]): int(e.args["stake"])
        for e in log.events("MinerJoined")
        if str(e.args["miner"]).lower() in members
    }
    burned = sum(int(e.args["amount"]) for e in log.events("StakeBurned"))
    for e in log.events("MinerSettled"):
        miner = str(e.args["miner"])
        payouts[miner] = {
            "role": "miner", "reward": leader_rewards.get(miner, 0), "penalty": 0,
            "penalty_share": 0, "slashed": int(e.args["slashed"]), "payout": int(e.args["payout"]),
        }  # fmt: skip
    refund = sum(int(e.args["amount"]) for e in log.events("RequesterRefunded"))
    if refund or log.events("RequesterRefunded"):
        payouts[state.requester] = {
            "role": "requester", "reward": 0, "penalty": 0, "penalty_share": 0, "slashed": 0,
            "payout": refund,
        }  # fmt: skip
    client_rows = [p for p in payouts.values() if p["role"] == "client"]
    paid = sum(p["reward"] for p in client_rows) + sum(leader_rewards.values())
    slashed = sum(p["slashed"] for p in payouts.values() if p["role"] == "miner")
    dust = sum(p["penalty"] - p["penalty_share"] for p in client_rows)
    mortgages = state.client_mortgage * len(outcome.clients)
    outcome.settled = state.status.ended and state.unsettled == 0
    outcome.escrow = {"deposited": escrow, "paid": paid}
    outcome.stakes = {
        "mortgages": mortgages, "miner_stakes": sum(stakes.values()), "slashed": slashed,
        "penalties": sum(p["penalty"] for p in client_rows), "penalty_dust": dust,
        "burned": burned,
    }  # fmt: skip
    outcome.payouts = payouts
    if outcome.settled:
        outcome.escrow["refunded"] = refund - dust  # slashed stake is burned, not refunded
        locked = escrow + mortgages + sum(stakes.values())
        returned = sum(p["payout"] for p in payouts.values()) + sum(leader_rewards.values())
        outcome.balanced = (
            paid + outcome.escrow["refunded"] == escrow
            and locked == returned + burned
            and burned == slashed
            and state.pot == 0
        )
