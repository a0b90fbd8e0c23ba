"""Fixtures of the contract tests: one deployment per module on the embedded chain and on a real
Anvil process, registered participants with deposits, and a snapshot per test.

``World`` wraps the deployment with small helpers (create a task, join, play a round with the
leader relaying the committee's attestations, settle) so that each test reads as the protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from fedchain.chain import Chain, TxResult, connect, eip712, find_anvil_binary
from fedchain.chain.deploy import Deployment, deploy_fedchain
from fedchain.chain.errors import AnvilError
from fedchain.chain.verdicts import make_verdict, verdict_hash

RAW = 0x55
DAG_PB = 0x70
CATEGORY = keccak(b"fedchain/tests/digits")
GAMMA_MAX = 100
H = 5
SLASH_BPS = 5_000
N_CLIENTS = 8
N_MINERS = 5
DEPOSIT = 10**18
POLICY = {"reputation": 0, "contribution": 1, "data_amount": 2, "fixed": 3}
STATUS = {"None": 0, "Joining": 1, "Running": 2, "Finished": 3, "Cancelled": 4}


def digest(*parts: object) -> bytes:
    """A 32-byte digest standing for a blob's raw-leaf CID digest."""
    return keccak("/".join(map(str, parts)).encode())


def account(role: str, i: int) -> LocalAccount:
    return Account.from_key(keccak(f"fedchain/tests/{role}/{i}".encode()))


@dataclass
class World:
    chain: Chain
    d: Deployment
    requester: LocalAccount
    clients: list[LocalAccount]
    miners: list[LocalAccount]
    outsider: LocalAccount
    spent: list[Any] = field(default_factory=list)

    @property
    def tasks(self) -> Any:
        return self.d.tasks

    @property
    def registry(self) -> Any:
        return self.d.registry

    @property
    def models(self) -> Any:
        return self.d.models

    def miner_by_address(self, address: str) -> LocalAccount:
        return next(m for m in self.miners if m.address == address)

    def spec(self, **overrides: Any) -> dict[str, Any]:
        spec = {
            "category": CATEGORY,
            "initialModel": digest("initial"),
            "initialCodec": RAW,
            "modelSpecHash": digest("spec"),
            "requestKey": digest("request"),
            "rounds": 3,
            "joinDeadline": self.chain.timestamp() + 1000,
            "submitDuration": 100,
            "verdictDuration": 100,
            "perRoundReward": 10**15,
            "rewardUnit": 10**12,
            "minReputation": 0,
            "clientMortgage": 3 * 10**14,
            "minMinerStake": 10**15,
            "minTotalStake": 0,
            "maxClients": N_CLIENTS,
            "committeeSize": 3,
            "byzantineF": 1,
            "policy": POLICY["reputation"],
        }
        spec.update(overrides)
        return spec

    def create(self, **overrides: Any) -> tuple[int, dict[str, Any]]:
        spec = self.spec(**overrides)
        escrow = spec["rounds"] * spec["perRoundReward"]
        result = self.tasks.createTask(spec, sender=self.requester, value=escrow)
        return int(result.event("TaskCreated").args["taskId"]), spec

    def permit(self, client: LocalAccount, task_id: int, mortgage: int, **kw: Any) -> dict:
        return eip712.sign_join(
            account=client,
            chain_id=kw.get("chain_id", self.chain.chain_id),
            verifying_contract=kw.get("contract", self.tasks.address),
            task_id=task_id,
            mortgage=mortgage,
            deadline=kw.get("deadline", self.chain.timestamp() + 3600),
            nonce=kw.get("nonce", int(self.tasks.joinNonce(client.address))),
        )

    def join(
        self, task_id: int, clients: Sequence[int], miners: Sequence[int], *, by_sig: bool = True
    ) -> None:
        mortgage = int(self.tasks.taskInfo(task_id).clientMortgage)
        stake = int(self.tasks.taskInfo(task_id).minMinerStake)
        for j in miners:
            self.tasks.joinAsMiner(task_id, stake, sender=self.miners[j])
        if by_sig:
            permits = [self.permit(self.clients[i], task_id, mortgage) for i in clients]
            self.tasks.joinClientsBySig(task_id, permits, sender=self.requester)
        else:
            for i in clients:
                self.tasks.joinAsClient(task_id, sender=self.clients[i])

    def setup(self, *, clients: int = 4, miners: int = 3, **overrides: Any) -> tuple[int, TxResult]:
        """Create, join ``clients`` clients and ``miners`` miners and start the task."""
        task_id, _ = self.create(**overrides)
        self.join(task_id, range(clients), range(miners))
        return task_id, self.start(task_id)

    def start(self, task_id: int, *, sender: LocalAccount | None = None) -> TxResult:
        """Wait out the join window (only a full task starts early), then start the task."""
        deadline = int(self.tasks.taskInfo(task_id).joinDeadline)
        if self.chain.timestamp() <= deadline:
            self.chain.increase_time(deadline - self.chain.timestamp() + 1)
        return self.tasks.startTask(task_id, sender=sender or self.requester)

    def committee(self, task_id: int, round: int) -> list[LocalAccount]:
        """The round's seats (a miner may hold several), leader first."""
        if self.chain.block_number() <= int(self.tasks.seedBlockOf(task_id, round)):
            self.chain.mine(1)  # the seed block's hash is readable from the next block on
        return [self.miner_by_address(a) for a in self.tasks.committee(task_id, round)]

    def until(self, action: Any, predicate: Any, *, tries: int = 64) -> TxResult:
        """Run ``action`` (which opens a round) until ``predicate()`` holds afterwards.

        Committees are drawn from the opening block's hash, which no test can choose: a test
        that needs a committee of a given shape (distinct members, a given leader) reverts and
        retries in a later block, as the grinder the protocol defeats cannot (it would need the
        hash inside the opening transaction).
        """
        for _ in range(tries):
            snap = self.chain.snapshot()
            result = action()
            if predicate():
                return result
            self.chain.revert(snap)
            self.chain.mine(1)
        raise AssertionError(f"no committee satisfied the predicate in {tries} blocks")

    def distinct(self, task_id: int, round: int) -> bool:
        """Whether every seat of the round's committee is a different miner."""
        seats = self.committee(task_id, round)
        return len(set(seats)) == len(seats)

    def approvers(self, task_id: int, round: int, attempt: int = 0) -> list[LocalAccount]:
        """Distinct members other than the leader whose seats, with the leader's, reach quorum."""
        seats = self.committee(task_id, round)
        leader = seats[attempt]
        needed = int(self.tasks.quorum(task_id)) - seats.count(leader)
        out: list[LocalAccount] = []
        for m in dict.fromkeys(seats):
            if needed <= 0:
                break
            if m != leader:
                out.append(m)
                needed -= seats.count(m)
        return out

    def sign_update(self, client: LocalAccount, task_id: int, round: int, **kw: Any) -> dict:
        return eip712.sign_update(
            account=client,
            chain_id=kw.get("chain_id", self.chain.chain_id),
            verifying_contract=kw.get("contract", self.tasks.address),
            task_id=task_id,
            round=round,
            digest=kw.get("digest", digest("u", task_id, round, client.address)),
            num_samples=kw.get("num_samples", 100),
            codec=kw.get("codec", RAW),
        )

    def submit(self, task_id: int, round: int, clients: Sequence[int]) -> None:
        for i in clients:
            self.tasks.submitUpdate(
                task_id,
                round,
                digest("u", task_id, round, i),
                100 + i,
                RAW,
                sender=self.clients[i],
            )

    def verdict(
        self,
        task_id: int,
        round: int,
        submitted: Sequence[int],
        accepted: Sequence[int],
        weights: Sequence[int] = (),
    ) -> dict[str, Any]:
        return make_verdict(
            submitted=submitted,
            accepted=accepted,
            global_model=digest("g", task_id, round),
            codec=RAW,
            weights=weights,
        )

    def attestations(
        self, task_id: int, round: int, verdict: dict[str, Any], members: Sequence[LocalAccount]
    ) -> list[dict[str, Any]]:
        vhash = verdict_hash(task_id, round, verdict)
        return [
            eip712.sign_attestation(
                account=m,
                chain_id=self.chain.chain_id,
                verifying_contract=self.tasks.address,
                task_id=task_id,
                round=round,
                verdict_hash=vhash,
            )
            for m in members
        ]

    def play(
        self,
        task_id: int,
        round: int,
        submitted: Sequence[int],
        accepted: Sequence[int],
        weights: Sequence[int] = (),
    ) -> TxResult:
        """Submissions, then the leader's verdict with the quorum's relayed attestations."""
        self.submit(task_id, round, submitted)
        n = int(self.tasks.taskInfo(task_id).clientCount)
        if len(submitted) < n:
            self.chain.increase_time(101)
        committee = self.committee(task_id, round)
        verdict = self.verdict(task_id, round, submitted, accepted, weights)
        sigs = self.attestations(task_id, round, verdict, self.approvers(task_id, round))
        result = self.tasks.postVerdict(task_id, round, verdict, sigs, sender=committee[0])
        assert result.events_named("RoundFinalized")
        return result

    def settle_all(self, task_id: int, clients: Sequence[int], miners: Sequence[int]) -> TxResult:
        addresses = [self.clients[i].address for i in clients]
        addresses += [self.miners[j].address for j in miners]
        return self.tasks.settleMany(task_id, addresses, sender=self.outsider)

    def owed_total(self) -> int:
        everyone = [self.requester, self.outsider, *self.clients, *self.miners]
        balances = sum(int(self.tasks.balanceOf(a.address)) for a in everyone)
        pots = sum(int(self.tasks.taskPot(t)) for t in range(1, int(self.tasks.taskCount()) + 1))
        return balances + pots + int(self.tasks.burnedStake())


def _chain(kind: str) -> Chain:
    if kind == "anvil":
        try:
            find_anvil_binary()
        except AnvilError as exc:
            pytest.skip(f"anvil not available: {exc}")
    return connect(kind, accounts=3)


def build_world(chain: Chain) -> World:
    requester, outsider = chain.dev_accounts(2)
    d = deploy_fedchain(
        chain, deployer=requester, gamma_max=GAMMA_MAX, threshold=H, slash_bps=SLASH_BPS
    )
    clients = [account("client", i) for i in range(N_CLIENTS)]
    miners = [account("miner", j) for j in range(N_MINERS)]
    for i, c in enumerate(clients):
        chain.fund(c.address, 2 * DEPOSIT)
        d.registry.registerClient(sender=c)
        d.registry.addDataProfile(
            {
                "category": CATEGORY,
                "dataType": digest("image"),
                "size": 100 + i,
                "nameHash": digest("name", i),
                "contentHash": digest("data", i),
                "timestamp": 1_700_000_000,
                "location": digest("loc"),
            },
            sender=c,
        )
        d.tasks.deposit(sender=c, value=DEPOSIT)
    for m in miners:
        chain.fund(m.address, 2 * DEPOSIT)
        d.registry.registerMiner(sender=m)
        d.tasks.deposit(sender=m, value=DEPOSIT)
    return World(chain, d, requester, clients, miners, outsider)


CHAINS = ["embedded", pytest.param("anvil", marks=pytest.mark.anvil)]


def _world_on(chain: Chain) -> Iterator[World]:
    """A deployed world on ``chain``, closed after the module."""
    try:
        yield build_world(chain)
    finally:
        chain.close()


def _reverted_after(world: World) -> Iterator[World]:
    """``world``, reverted to its pristine state after the test."""
    snap = world.chain.snapshot()
    try:
        yield world
    finally:
        world.chain.revert(snap)


@pytest.fixture(scope="module", params=CHAINS)
def module_world(request: pytest.FixtureRequest) -> Iterator[World]:
    yield from _world_on(_chain(request.param))


@pytest.fixture
def world(module_world: World) -> Iterator[World]:
    """The module's world, reverted to its pristine state after the test."""
    yield from _reverted_after(module_world)


@pytest.fixture(scope="module")
def embedded_world() -> Iterator[World]:
    """An embedded-only world for tests that need no Anvil twin."""
    yield from _world_on(connect("embedded", accounts=3))


@pytest.fixture
def eworld(embedded_world: World) -> Iterator[World]:
    yield from _reverted_after(embedded_world)
