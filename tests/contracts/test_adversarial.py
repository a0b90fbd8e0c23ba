"""Adversarial play of whole tasks against the real contracts, with invariants after every step.

A hypothesis state machine runs tasks one after another on a seeded embedded chain. The actors:

- honest clients (0-3) submit an honest update in every round, promptly; lazy clients (4, 5)
  never submit; poisoning clients (6, 7) submit a bad update the honest verdict rejects;
- honest miners (the conftest's five) and one attacker who controls four sybil miners and
  splits its stake among them; the attacker also opens rounds at chosen blocks (it cannot see
  the seed: the committee view reverts in the opening block) and, when nobody pins a round's
  committee, pins it only when it likes it (an unpinned seed expires after 256 blocks and is
  renewed, which draws a new committee);
- two requesters that try to start early and to cancel running tasks.

In a round every committee seat behaves per its owner: honest members attest the honest verdict
(relayed by an honest leader, or on chain) and dissent from any other; an attacker leader posts
a verdict that rejects the honest clients, or one with a junk model, or stays silent, or
camouflages as honest; attacker members dissent, stay silent or agree with their leader; the
attacker tries to replace an honest leader early. Every call is the contract's own
(postVerdict, attestVerdict, replaceLeader, drawCommittee, cancelTask, settleMany, leaveTask);
nothing of the protocol is re-implemented here, the model only knows who is honest.

Invariants (asserted after every transaction or step):

1. a verdict other than the honest one finalizes only if the coalition holds at least a quorum
   of the round's seats (so never below one third), and a round whose coalition holds fewer
   than one third of the seats always finalizes, with the honest verdict;
2. an honest client of a task whose finalized rounds all used the honest verdict settles with
   payout >= mortgage and no penalty, and its reputation in that requester's scope never falls;
3. no wei is created or lost: the TaskManager's ether balance == Σ internal balances + Σ task
   pots + burnedStake();
4. an honest miner is slashed only in rounds where the coalition holds at least one third of
   the seats (and one never slashed settles with its whole stake).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from fedchain.chain import connect, eip712
from fedchain.chain.errors import ContractError
from fedchain.chain.verdicts import make_verdict, verdict_hash
from fedchain.incentives import data_amount_bps

from .conftest import DEPOSIT, POLICY, RAW, STATUS, World, account, build_world, digest

HONEST_CLIENTS, LAZY_CLIENTS, POISON_CLIENTS = (0, 1, 2, 3), (4, 5), (6, 7)
N_SYBILS = 4
STAKE = 10**15  # minMinerStake of every task
EXPIRY = 257  # blocks after which a round's seed block hash is gone
RUNNING, JOINING = STATUS["Running"], STATUS["Joining"]
ENDED = (STATUS["Finished"], STATUS["Cancelled"])

#: Where the counts are written (``make test`` prints it after the run).
REPORT = Path(__file__).resolve().parents[2] / "build" / "test-reports" / "adversarial.txt"

#: What the examples did, over the whole run (printed at the end).
COUNTS: Counter[str] = Counter()


class _Shared:
    """The deployment and the actors, built once; every example reverts to its snapshot."""

    def __init__(self) -> None:
        chain = connect("embedded", seed=10, accounts=3)
        self.w: World = build_world(chain)
        self.anyone: LocalAccount = chain.dev_accounts(3)[2]
        self.sybils = [account("sybil", k) for k in range(N_SYBILS)]
        for s in self.sybils:
            chain.fund(s.address, 2 * DEPOSIT)
            self.w.registry.registerMiner(sender=s)
            self.w.tasks.deposit(sender=s, value=DEPOSIT)
        self.requesters = [self.w.requester, self.w.outsider]
        self.everyone = [*self.requesters, self.anyone, *self.w.clients, *self.w.miners,
                         *self.sybils]  # fmt: skip
        self.balances = {a.address: int(self.w.tasks.balanceOf(a.address)) for a in self.everyone}
        self.snapshot = chain.snapshot()


_shared: _Shared | None = None


def shared() -> _Shared:
    global _shared
    if _shared is None:
        _shared = _Shared()
    return _shared


@dataclass
class RoundSeats:
    seats: list[str]
    coalition: int  # seats held by sybils
    quorum: int

    @property
    def size(self) -> int:
        return len(self.seats)

    @property
    def below_third(self) -> bool:
        return 3 * self.coalition < self.size


@dataclass
class TaskModel:
    id: int
    requester: LocalAccount
    mortgage: int
    policy: int
    size: int
    rounds: int
    long_window: bool  # windows span more than 256 blocks: an unpinned seed expires
    honest_pin: bool  # honest miners pin each committee as soon as it is readable
    clients: list[int] = field(default_factory=list)  # client numbers in index order
    miners: list[str] = field(default_factory=list)  # miner addresses in index order
    seats: dict[int, RoundSeats] = field(default_factory=dict)
    compromised: bool = False  # a round finalized with a verdict other than the honest one
    slashed: set[str] = field(default_factory=set)
    settled: bool = False


@dataclass
class Plan:
    """How the attacker plays a round."""

    leader: str  # bad_reject | bad_junk | silent | honest
    member: str  # dissent | silent | agree
    relay: bool  # an honest leader relays the honest members' attestations
    attackers_first: bool
    premature: bool  # the attacker tries to replace an honest leader at once
    cancel_try: bool  # the requester tries to cancel mid-round
    grind: bool  # the attacker pins a committee it likes, lets others expire
    expiries: int  # how often waiting lets an unpinned seed expire
    delay: int  # blocks the opener waits before the transaction that opens the next round


PLANS = st.builds(
    Plan,
    leader=st.sampled_from(["bad_reject", "silent", "bad_junk", "honest"]),
    member=st.sampled_from(["dissent", "silent", "agree"]),
    relay=st.booleans(),
    attackers_first=st.booleans(),
    premature=st.booleans(),
    cancel_try=st.booleans(),
    grind=st.booleans(),
    expiries=st.integers(0, 2),
    delay=st.integers(0, 3),
)
HONEST_PLAN = Plan("honest", "agree", True, False, False, False, False, 0, 0)


class AdversarialMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.s = shared()
        self.w = self.s.w
        self.chain, self.tm, self.reg = self.w.chain, self.w.tasks, self.w.registry
        self.chain.revert(self.s.snapshot)
        self.s.snapshot = self.chain.snapshot()  # snapshots are single use
        self.sybil_set = {s.address for s in self.s.sybils}
        self.honest_miners = {m.address for m in self.w.miners}
        self.by_address = {a.address: a for a in self.s.everyone}
        self.tasks: list[TaskModel] = []
        self.honest_hash: dict[tuple[int, int], bytes] = {}
        self.finalized: dict[tuple[int, int], bytes] = {}
        self.infos: dict[int, Any] = {}
        self.dirty = True
        self.busy = False
        # Internal balances and pots, re-read for every account or task a transaction names
        # (sender, event arguments) and in full every few steps: a change elsewhere would
        # show as a mismatch, never hide one.
        self.balances = dict(self.s.balances)
        self.pots: dict[int, int] = {}
        self.touched: set[str] = set()
        self.pots_touched: set[int] = set()
        COUNTS["runs"] += 1

    # -- plumbing --------------------------------------------------------------------------

    @property
    def task(self) -> TaskModel | None:
        return self.tasks[-1] if self.tasks else None

    def info(self, m: TaskModel) -> Any:
        """The task's TaskInfo (cached until the next transaction)."""
        if m.id not in self.infos:
            self.infos[m.id] = self.tm.taskInfo(m.id)
        return self.infos[m.id]

    def status(self, m: TaskModel) -> int:
        return int(self.info(m).status)

    def tx(
        self, fn: Any, *args: Any, sender: LocalAccount, ok: tuple[str, ...] = (), value: int = 0
    ) -> Any:
        """Send; a revert must be one of ``ok`` (named errors). Returns the result or None."""
        try:  # an expected success needs no gas estimate (one execution fewer)
            result = fn(*args, sender=sender, value=value, gas=None if ok else 12_000_000)
        except ContractError as exc:
            assert exc.error_name in ok, f"{fn.__name__}: unexpected {exc}"
            COUNTS[f"revert {exc.error_name}"] += 1
            return None
        COUNTS[f"ok {fn.__name__}"] += 1
        self.infos.clear()
        self.dirty = True
        self.touched.add(sender.address)
        for e in result.events:
            self.touched.update(v for v in e.args.values() if isinstance(v, str))
            if "taskId" in e.args:
                self.pots_touched.add(int(e.args["taskId"]))
        self.observe(result)
        return result

    def observe(self, result: Any) -> None:
        """Check invariants 1 and 4 on the events of every transaction."""
        by_id = {m.id: m for m in self.tasks}
        for e in result.events:
            m = by_id.get(int(e.args.get("taskId", 0)))
            if m is None:
                continue
            if e.name == "StakeSlashed":
                miner, r = e.args["miner"], int(e.args["round"])
                seats = m.seats[r]
                assert miner in seats.seats, (m.id, r, miner)
                if miner in self.honest_miners:
                    # (4) an honest miner pays only where the coalition holds >= 1/3 of the seats
                    assert not seats.below_third, (m.id, r, miner, e.args["reason"], seats)
                    COUNTS["honest miner slashed (coalition >= 1/3)"] += 1
                else:
                    COUNTS[f"attacker slashed, reason {int(e.args['reason'])}"] += 1
                m.slashed.add(miner)
            elif e.name == "RoundFinalized":
                r = int(e.args["round"])
                seats = m.seats[r]
                self.finalized[(m.id, r)] = bytes(e.args["verdictHash"])
                honest = self.finalized[(m.id, r)] == self.honest_hash[(m.id, r)]
                # (1) only a coalition holding a quorum of seats finalizes another verdict
                assert honest or seats.coalition >= seats.quorum, (m.id, r, seats)
                COUNTS["rounds finalized honestly" if honest else "rounds captured"] += 1
                if seats.below_third:
                    COUNTS["rounds with coalition < 1/3"] += 1
                if not honest:
                    m.compromised = True
            elif e.name == "SeedRenewed":
                COUNTS["seeds renewed"] += 1
                m.seats.pop(int(e.args["round"]), None)

    def wait_past(self, m: TaskModel, deadline: int, plan: Plan) -> None:
        """Time passes until ``deadline``; in a long-window task that is more than 256 blocks."""
        now = self.chain.timestamp()
        if now <= deadline:
            self.chain.increase_time(deadline - now + 1)
        if m.long_window and plan.expiries > 0:
            plan.expiries -= 1
            self.chain.mine(EXPIRY)

    def seats(self, m: TaskModel, r: int) -> RoundSeats:
        """Round ``r``'s committee as the contract draws it (renewing an expired seed first)."""
        if self.chain.block_number() <= int(self.tm.seedBlockOf(m.id, r)):
            self.chain.mine(1)
        try:
            seats = list(self.tm.committee(m.id, r))
        except ContractError as exc:
            assert exc.error_name == "TaskManagerSeedExpired", exc
            assert self.tx(self.tm.drawCommittee, m.id, sender=self.s.anyone).events_named(
                "SeedRenewed"
            )
            self.chain.mine(1)
            seats = list(self.tm.committee(m.id, r))
        old = m.seats.get(r)
        assert old is None or old.seats == seats, "a drawn committee changed"
        coalition = sum(a in self.sybil_set for a in seats)
        m.seats[r] = RoundSeats(seats, coalition, int(self.tm.quorum(m.id)))
        return m.seats[r]

    def miner(self, address: str) -> LocalAccount:
        return self.by_address[address]

    # -- rules: tasks and joins ----------------------------------------------------------------

    @initialize()
    def clean(self) -> None:
        self.chain.gas.reset()

    @precondition(lambda self: self.task is None or self.status(self.task) in ENDED)
    @rule(
        policy=st.sampled_from(sorted(POLICY.values())),
        size=st.integers(1, 5),
        rounds=st.integers(1, 3),
        requester=st.integers(0, 1),
        long_window=st.booleans(),
        honest_pin=st.booleans(),
        min_total=st.sampled_from([0, 0, 6 * STAKE]),
        clients=st.sets(st.integers(0, 7)),
        honest=st.integers(0, 5),
        sybil_units=st.integers(0, 12),
        split=st.integers(1, N_SYBILS),
        start_now=st.booleans(),
    )
    def create_task(self, policy: int, size: int, rounds: int, requester: int,
                    long_window: bool, honest_pin: bool, min_total: int, clients: set[int],
                    honest: int, sybil_units: int, split: int,
                    start_now: bool) -> None:  # fmt: skip
        """A new task, and the first to join it: clients, honest miners, the attacker's sybils."""
        who = self.s.requesters[requester]
        spec = self.w.spec(policy=policy, committeeSize=size, rounds=rounds, byzantineF=0,
                           clientMortgage=rounds * 10**14, minMinerStake=STAKE,
                           minTotalStake=min_total)  # fmt: skip
        escrow = rounds * spec["perRoundReward"]
        result = self.tx(self.tm.createTask, spec, sender=who, value=escrow)
        task_id = int(result.event("TaskCreated").args["taskId"])
        self.tasks.append(TaskModel(task_id, who, spec["clientMortgage"], policy, size, rounds,
                                    long_window, honest_pin))  # fmt: skip
        if clients:
            self.join_clients(clients, by_permit=bool(task_id % 2))
        for j in range(honest):
            self.join_honest_miner(j, 1 + j % 3)
        if sybil_units:
            self.join_sybils(sybil_units, split)
        if start_now:
            self.start("anyone", True, 0)

    def joining(self) -> bool:
        m = self.task
        return (
            m is not None
            and self.status(m) == JOINING
            and self.chain.timestamp() < int(self.info(m).joinDeadline)
        )

    @precondition(joining)
    @rule(who=st.sets(st.integers(0, 7), min_size=1), by_permit=st.booleans())
    def join_clients(self, who: set[int], by_permit: bool) -> None:
        """Clients join (the mortgage locked from their balance), directly or by relayed permit."""
        m = self.task
        new = sorted(i for i in who if i not in m.clients)
        if not new:
            return
        if by_permit:
            permits = [self.w.permit(self.w.clients[i], m.id, m.mortgage) for i in new]
            result = self.tx(self.tm.joinClientsBySig, m.id, permits, sender=m.requester)
            joined = [e.args["client"] for e in result.events_named("ClientJoined")]
        else:
            joined = []
            for i in new:
                self.tx(self.tm.joinAsClient, m.id, sender=self.w.clients[i])
                joined.append(self.w.clients[i].address)
        assert joined == [self.w.clients[i].address for i in new]
        m.clients.extend(new)

    @precondition(joining)
    @rule(j=st.integers(0, 4), units=st.integers(1, 4))
    def join_honest_miner(self, j: int, units: int) -> None:
        m = self.task
        miner = self.w.miners[j]
        if miner.address not in m.miners:
            self.tx(self.tm.joinAsMiner, m.id, units * STAKE, sender=miner)
            m.miners.append(miner.address)

    @precondition(joining)
    @rule(units=st.integers(1, 16), split=st.integers(1, N_SYBILS))
    def join_sybils(self, units: int, split: int) -> None:
        """The attacker stakes ``units`` x the minimum, split over ``split`` sybil addresses."""
        m = self.task
        free = [s for s in self.s.sybils if s.address not in m.miners][:split]
        for k, sybil in enumerate(free):
            share = max(1, units // len(free) + (k < units % len(free)))
            self.tx(self.tm.joinAsMiner, m.id, share * STAKE, sender=sybil)
            m.miners.append(sybil.address)

    @precondition(joining)
    @rule(pick=st.integers(0, 20))
    def leave(self, pick: int) -> None:
        """A member leaves before the start (the last of its role takes its index): refunded."""
        m = self.task
        members = [self.w.clients[i].address for i in m.clients] + m.miners
        if not members:
            return
        leaver = members[pick % len(members)]
        client = leaver not in m.miners
        order = [self.w.clients[i].address for i in m.clients] if client else m.miners
        last = order[-1]
        before = int(self.tm.balanceOf(leaver))
        result = self.tx(self.tm.leaveTask, m.id, last, sender=self.by_address[leaver])
        refund = int(result.event("MemberLeft").args["refund"])
        assert int(self.tm.balanceOf(leaver)) == before + refund
        if client:
            assert refund == m.mortgage
            k = order.index(leaver)
            m.clients[k] = m.clients[-1]
            m.clients.pop()
        else:
            k = m.miners.index(leaver)
            m.miners[k] = m.miners[-1]
            m.miners.pop()
        COUNTS["left before start"] += 1

    @precondition(lambda self: self.task is not None and self.status(self.task) == JOINING)
    @rule(early=st.booleans())
    def requester_tricks(self, early: bool) -> None:
        """The requester tries to start before the deadline (never full here: refused), or
        cancels while joining (allowed: everyone gets its deposit back at settlement)."""
        m = self.task
        if early and self.chain.timestamp() < int(self.info(m).joinDeadline) - 5:
            res = self.tx(self.tm.startTask, m.id, sender=m.requester,
                          ok=("TaskManagerJoinStillOpen",))  # fmt: skip
            assert res is None
        elif not early:
            self.tx(self.tm.cancelTask, m.id, sender=m.requester)
            COUNTS["cancelled while joining"] += 1

    @precondition(lambda self: self.task is not None and self.status(self.task) == JOINING)
    @rule(
        starter=st.sampled_from(["anyone", "requester", "sybil"]),
        fill=st.sampled_from([True, True, False]),
        grind=st.integers(0, 3),
    )
    def start(self, starter: str, fill: bool, grind: int) -> None:
        """After the join window the task starts at a block the opener chooses (it cannot see
        the seed: in that block the committee is unreadable); one that cannot start is
        cancelled by anyone."""
        m = self.task
        info = self.info(m)
        fill = fill and self.chain.timestamp() < int(info.joinDeadline)
        if fill:
            if not m.clients:
                self.join_clients({0, 1}, False)
            for j in range(len(self.w.miners)):
                if len(m.miners) >= m.size and int(self.info(m).totalStake) >= int(
                    info.minTotalStake
                ):
                    break
                self.join_honest_miner(j, 2)
        deadline = int(info.joinDeadline)
        if self.chain.timestamp() <= deadline:
            self.chain.increase_time(deadline - self.chain.timestamp() + 1)
        self.chain.mine(grind)
        sender = {"anyone": self.s.anyone, "requester": m.requester,
                  "sybil": self.s.sybils[0]}[starter]  # fmt: skip
        ok = ("TaskManagerNotStartable", "TaskManagerStakeShortfall")
        result = self.tx(self.tm.startTask, m.id, sender=sender, ok=ok)
        if result is None:
            assert not fill
            self.tx(self.tm.cancelTask, m.id, sender=self.s.anyone)
            COUNTS["unstartable, cancelled by anyone"] += 1
            return
        try:
            self.tm.committee(m.id, 0)
            raise AssertionError("the committee was readable in its opening block")
        except ContractError as exc:
            assert exc.error_name == "TaskManagerSeedNotReady", exc
        COUNTS["tasks started"] += 1

    # -- rules: rounds -----------------------------------------------------------------------

    def honest_verdict(self, m: TaskModel, r: int, submitted: list[int], reject: bool = False,
                       junk: bool = False) -> dict[str, Any]:  # fmt: skip
        """The verdict every honest member computes (``reject``/``junk``: the attacker's)."""
        n = len(m.clients)
        good = [k for k in submitted if m.clients[k] in HONEST_CLIENTS]
        bad = [k for k in submitted if m.clients[k] in POISON_CLIENTS]
        accepted = bad if reject else good
        weights: list[int] = []
        if m.policy == POLICY["contribution"] and accepted:
            weights = [10_000 // len(accepted) if k in accepted else 0 for k in range(n)]
        elif m.policy == POLICY["contribution"]:
            weights = [0] * n
        elif m.policy == POLICY["data_amount"]:
            samples = [100 + i for i in m.clients]  # claimed = registered profile size
            weights = data_amount_bps(samples, accepted=[k in accepted for k in range(n)])
        return make_verdict(
            submitted=submitted,
            accepted=accepted,
            global_model=digest("junk" if junk else "g", m.id, r),
            codec=RAW,
            weights=weights,
        )

    def sign(self, m: TaskModel, r: int, verdict: dict[str, Any], members: list[str]) -> list:
        vh = verdict_hash(m.id, r, verdict)
        return [
            eip712.sign_attestation(account=self.miner(a), chain_id=self.chain.chain_id,
                                    verifying_contract=self.tm.address, task_id=m.id, round=r,
                                    verdict_hash=vh)
            for a in members
        ]  # fmt: skip

    def open_round(self, m: TaskModel, r: int) -> bool:
        info = self.info(m)
        return int(info.status) == RUNNING and int(info.round) == r

    def fail_attempt(self, m: TaskModel, r: int, plan: Plan, caller: LocalAccount) -> None:
        """The current attempt is over: replace its leader, or cancel after the last one."""
        info = self.info(m)
        ok = ("TaskManagerSeedExpired",)
        if int(info.attempt) + 1 < m.size:
            self.tx(self.tm.replaceLeader, m.id, sender=caller, ok=ok)
        else:
            if self.tx(self.tm.cancelTask, m.id, sender=caller, ok=ok) is not None:
                COUNTS["cancelled: no leader left"] += 1
        if self.open_round(m, r):
            self.seats(m, r)  # renews an expired seed (the silent leader is never charged)

    @precondition(lambda self: self.task is not None and self.status(self.task) == RUNNING)
    @rule(plan=PLANS)
    def play_round(self, plan: Plan) -> None:
        self.busy = True  # left set if the round raises: teardown then leaves the state alone
        self._play(self.task, plan)
        self.busy = False
        COUNTS["rounds played"] += 1

    def _play(self, m: TaskModel, plan: Plan) -> None:
        r = int(self.info(m).round)
        seats = self.seats(m, r)
        if m.honest_pin:
            self.tx(
                self.tm.drawCommittee,
                m.id,
                sender=self.w.miners[0],
                ok=("TaskManagerCommitteeAlreadyDrawn",),
            )
        elif plan.grind and seats.coalition >= seats.quorum:
            self.tx(self.tm.drawCommittee, m.id, sender=self.s.sybils[0])  # pin the capture
            COUNTS["grinder pinned a captured committee"] += 1
        if plan.cancel_try:  # the requester tries to cancel a round that just opened
            res = self.tx(self.tm.cancelTask, m.id, sender=m.requester,
                          ok=("TaskManagerNotCancellable",))  # fmt: skip
            assert res is None, "a task was cancelled while its round was open"
        # Submissions: honest clients an honest update, poisoners a bad one, lazy ones nothing.
        submitted = []
        for k, i in enumerate(m.clients):
            if i in LAZY_CLIENTS:
                continue
            kind = "honest" if i in HONEST_CLIENTS else "poison"
            self.tx(self.tm.submitUpdate, m.id, r, digest(kind, m.id, r, i), 100 + i, RAW,
                    sender=self.w.clients[i])  # fmt: skip
            submitted.append(k)
        if len(submitted) < len(m.clients):
            self.wait_past(m, int(self.info(m).submitDeadline), plan)
        honest = self.honest_verdict(m, r, submitted)
        h_hash = verdict_hash(m.id, r, honest)
        self.honest_hash[(m.id, r)] = h_hash
        other = digest("dissent", m.id, r)
        requester = m.requester
        for _ in range(3 * m.size + 3):
            if not self.open_round(m, r):
                break
            seats = self.seats(m, r)
            attempt = int(self.info(m).attempt)
            leader = seats.seats[attempt]
            attacker_leads = leader in self.sybil_set
            mode = plan.leader if attacker_leads else "honest"
            members = [a for a in dict.fromkeys(seats.seats) if a != leader]
            honest_members = [a for a in members if a not in self.sybil_set]
            attackers = [a for a in members if a in self.sybil_set]
            if mode == "silent":
                self.wait_past(m, int(self.info(m).verdictDeadline), plan)
                self.fail_attempt(m, r, plan, self.s.anyone)
                continue
            verdict = (honest if mode == "honest" else
                       self.honest_verdict(m, r, submitted, reject=mode == "bad_reject",
                                           junk=mode == "bad_junk"))  # fmt: skip
            if mode == "honest" and not attacker_leads:
                relayed = honest_members if plan.relay else []
            elif mode != "honest" and plan.member == "agree":
                relayed = attackers  # accomplices back their leader's verdict
            else:
                relayed = []
            if plan.delay:
                self.chain.mine(plan.delay)  # the finalizer chooses the next round's seed block
            self.tx(self.tm.postVerdict, m.id, r, verdict, self.sign(m, r, verdict, relayed),
                    sender=self.miner(leader))  # fmt: skip
            answers: list[tuple[str, bytes]] = []
            for a in attackers:
                if a in relayed or plan.member == "silent":
                    continue
                if mode != "honest":  # accomplices of a bad leader agree, or stay silent
                    continue
                answers.append((a, other if plan.member == "dissent" else h_hash))
            honest_answers = [(a, h_hash) for a in honest_members if a not in relayed]
            answers = answers + honest_answers if plan.attackers_first else honest_answers + answers
            if plan.premature and not attacker_leads and self.open_round(m, r):
                res = self.tx(
                    self.tm.replaceLeader,
                    m.id,
                    sender=self.s.sybils[0],
                    ok=("TaskManagerVerdictWindowOpen", "TaskManagerNoLeaderLeft"),
                )
                if res is not None:
                    COUNTS["honest leader replaced at once"] += 1
            if plan.cancel_try and self.open_round(m, r):
                res = self.tx(self.tm.cancelTask, m.id, sender=requester,
                              ok=("TaskManagerNotCancellable",))  # fmt: skip
                assert res is None or not seats.below_third, "a healthy round was cancelled"
            for a, vh in answers:
                if not self.open_round(m, r) or int(self.info(m).attempt) != attempt:
                    break
                self.tx(self.tm.attestVerdict, m.id, r, vh, sender=self.miner(a))
            if not self.open_round(m, r) or int(self.info(m).attempt) != attempt:
                continue
            # The attempt is blocked: replace at once when dissents make quorum impossible.
            ok = ("TaskManagerVerdictWindowOpen", "TaskManagerNotCancellable")
            caller = self.s.sybils[0] if attacker_leads else self.s.anyone
            last = attempt + 1 >= m.size
            fn = self.tm.cancelTask if last else self.tm.replaceLeader
            if self.tx(fn, m.id, sender=caller, ok=ok) is None:
                self.wait_past(m, int(self.info(m).verdictDeadline), plan)
                self.fail_attempt(m, r, plan, caller)
            elif last:
                COUNTS["cancelled: no leader left"] += 1
        assert not self.open_round(m, r), "the round neither finalized nor ended"
        final = m.seats[r]
        if final.below_third:  # (1) liveness and safety below one third
            assert int(self.info(m).round) > r, ("a round below 1/3 did not finalize", final)
            assert self.finalized[(m.id, r)] == h_hash, final

    @precondition(lambda self: self.task is None or self.status(self.task) != RUNNING)
    @rule(seconds=st.sampled_from([30, 600, 2_000]))
    def time_passes(self, seconds: int) -> None:
        self.chain.increase_time(seconds)

    # -- settlement ----------------------------------------------------------------------------

    @precondition(lambda self: any(not m.settled for m in self.tasks))
    @rule(pick=st.integers(0, 5))
    def settle_everyone(self, pick: int) -> None:
        ended = [m for m in self.tasks if not m.settled and self.status(m) in ENDED]
        if ended:
            self.settle(ended[pick % len(ended)])

    def settle(self, m: TaskModel) -> None:
        """Everyone settles in one batch; (2) and (4) hold for the honest ones."""
        clients = [self.w.clients[i] for i in m.clients]
        addresses = [c.address for c in clients] + m.miners
        rep_before = {c.address: int(self.reg.reputationOf(c.address, m.requester.address))
                      for c in clients}  # fmt: skip
        if addresses:
            result = self.tx(self.tm.settleMany, m.id, addresses, sender=self.s.anyone)
            for e in result.events_named("ClientSettled"):
                who = e.args["client"]
                i = next(i for i in m.clients if self.w.clients[i].address == who)
                rep = int(self.reg.reputationOf(who, m.requester.address))
                if i in HONEST_CLIENTS and not m.compromised:
                    assert int(e.args["penalty"]) == 0, (m.id, who, e.args)  # (2)
                    assert int(e.args["payout"]) >= m.mortgage, (m.id, who, e.args)
                    assert rep >= rep_before[who], (m.id, who, rep_before[who], rep)
                    COUNTS["honest clients settled whole"] += 1
                elif i in HONEST_CLIENTS:
                    COUNTS["honest clients of a captured task"] += 1
            for e in result.events_named("MinerSettled"):
                if e.args["miner"] not in m.slashed:
                    assert int(e.args["slashed"]) == 0, e.args  # (4)
        assert int(self.tm.taskPot(m.id)) == 0
        m.settled = True

    # -- invariant 3 and the end of an example -------------------------------------------------

    @invariant()
    def no_wei_created_or_lost(self) -> None:
        COUNTS["steps"] += 1
        self.check_money(full=COUNTS["steps"] % 16 == 0)

    def check_money(self, full: bool) -> None:
        if not (self.dirty or full):  # only transactions move wei
            return
        self.dirty = False
        for a in self.balances:
            if full or a in self.touched:
                self.balances[a] = int(self.tm.balanceOf(a))
        for m in self.tasks:
            if full or m.id in self.pots_touched or m.id not in self.pots:
                self.pots[m.id] = int(self.tm.taskPot(m.id))
        self.touched.clear()
        self.pots_touched.clear()
        total = sum(self.balances.values()) + sum(self.pots.values()) + int(self.tm.burnedStake())
        assert self.chain.balance(self.tm.address) == total  # (3)

    def teardown(self) -> None:
        """Play the current task out (the attacker keeps attacking), then settle everything."""
        m = self.task
        if self.busy:  # a failing round: report its error, not a follow-up one
            return
        if m is not None and self.status(m) == JOINING:
            self.tx(self.tm.cancelTask, m.id, sender=m.requester)
        for _ in range(4):
            if m is None or self.status(m) != RUNNING:
                break
            self._play(m, Plan("bad_reject", "dissent", True, True, True, True, False, 0, 0))
        assert m is None or self.status(m) in ENDED
        for t in self.tasks:
            if not t.settled:
                self.settle(t)
        self.check_money(full=True)


def test_adversaries_cannot_break_the_invariants(capsys: pytest.CaptureFixture[str]) -> None:
    shared()  # deploy outside hypothesis
    run_state_machine_as_test(
        AdversarialMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    lines = [f"adversarial machine: runs={COUNTS['runs']} steps={COUNTS['steps']} violations=0"]
    lines += [f"  {key}: {count}" for key, count in sorted(COUNTS.items())
              if key not in ("runs", "steps")]  # fmt: skip
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    # Under xdist a worker's output does not reach the terminal: `make test` prints this file.
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    assert COUNTS["rounds captured"] + COUNTS["rounds finalized honestly"] > 0
