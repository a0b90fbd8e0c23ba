"""What every role shares: who it is, which task it follows, and the loop that drives it.

A role is a state machine over chain state. :meth:`TaskRole.step` reads the task (one view call
and the new events), does at most the next action for this participant, and says whether it
acted, is waiting, or is done. :meth:`TaskRole.run` repeats it until done. Nothing a later step
needs is kept only in memory, so a new process (or a new object) carries on where an old one
stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount

from fedchain.chain.connection import Chain
from fedchain.chain.contract import BoundContract
from fedchain.chain.deploy import Deployment
from fedchain.chain.errors import ChainConnectionError
from fedchain.chain.outage import DEFAULT_NODE_TIMEOUT, NodeOutage, format_seconds
from fedchain.chain.transact import TxResult
from fedchain.learning import ModelSpec
from fedchain.report.labels import format_wei
from fedchain.roles.blobs import FetchedModel, fetch_model, read_manifest
from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, error_name, read_task
from fedchain.roles.errors import RoleError, RoleTimeoutError
from fedchain.roles.taskfile import TaskManifest
from fedchain.storage import BlobStore
from fedchain.urls import redact_url

__all__ = [
    "DEFAULT_NODE_TIMEOUT",
    "Activity",
    "ClaimResult",
    "LeaveResult",
    "MemberRole",
    "Participant",
    "TaskRole",
    "quiet",
]

#: Global models a role keeps decoded (the current round's start and result, and a few more).
_MODEL_CACHE = 4


def quiet(message: str) -> None:
    """A log sink that drops everything."""


class Activity(Enum):
    """What one :meth:`TaskRole.step` did."""

    ACTED = "acted"  # sent a transaction or did real work; step again at once
    WAITING = "waiting"  # waiting for others or for a deadline
    DONE = "done"  # nothing left to do for this participant


@dataclass
class Participant:
    """One participant: its account and where it meets the others.

    Attributes:
        chain: the connection (its transactions are signed locally with ``account``).
        deployment: the FedChain contracts.
        store: the blob store (local directory or Kubo).
        account: the participant's key.
        name: a label for log lines (``"client 3"``).
        log: where progress lines go.
    """

    chain: Chain
    deployment: Deployment
    store: BlobStore
    account: LocalAccount
    name: str = ""
    log: Callable[[str], None] = field(default=quiet)

    @property
    def address(self) -> str:
        """The participant's checksummed address."""
        return str(self.account.address)

    @property
    def tasks(self) -> BoundContract:
        """The TaskManager binding."""
        return self.deployment.tasks

    def say(self, message: str) -> None:
        """Log ``message`` prefixed with the participant's name."""
        self.log(f"{self.name}: {message}" if self.name else message)

    def registered_roles(self) -> int:
        """The ParticipantRegistry's role bits of this account (1 client, 2 miner)."""
        return int(self.deployment.registry.accountOf(self.address).roles)


@dataclass(frozen=True)
class ClaimResult:
    """What :meth:`TaskRole.claim` did: settled the membership, withdrew ``withdrawn`` wei."""

    settled: bool
    withdrawn: int
    settlement: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LeaveResult:
    """What :meth:`TaskRole.leave` did: left as ``role`` ("client" or "miner") and got
    ``refund`` wei back, then withdrew ``withdrawn`` wei (its whole internal balance)."""

    role: str
    refund: int
    withdrawn: int


class TaskRole:
    """Base of the roles that follow one task.

    Args:
        who: the participant.
        task_id: the task.
        log: a :class:`TaskLog` to share with other roles in the same process (else its own).
    """

    def __init__(self, who: Participant, task_id: int, *, log: TaskLog | None = None) -> None:
        self.who = who
        self.task_id = task_id
        self.log = (
            log
            if log is not None
            else TaskLog(who.tasks, task_id, addresses=who.deployment.log_addresses())
        )
        self._manifest: TaskManifest | None = None
        self._models: dict[tuple[bytes, int], FetchedModel] = {}

    # -- reading ----------------------------------------------------------------------------

    def state(self) -> TaskState:
        """The task now (and the events up to now)."""
        self.log.refresh()
        return read_task(self.who.tasks, self.task_id, log=self.log)

    @property
    def manifest(self) -> TaskManifest:
        """The task manifest, read once from the initial model blob."""
        if self._manifest is None:
            digest, codec = self.who.deployment.models.initialModel(self.task_id)
            initial = fetch_model(self.who.store, digest, codec)  # spec unknown until read
            self._manifest = read_manifest(initial)
        return self._manifest

    @property
    def spec(self) -> ModelSpec:
        """The task's model spec."""
        return self.manifest.model

    def model(self, digest: bytes, codec: int) -> FetchedModel:
        """A model blob by its on-chain address, checked against the task's model spec
        (cached per process)."""
        key = (bytes(digest), int(codec))
        if key in self._models:
            self._models[key] = self._models.pop(key)  # most recently used last
        else:
            self._models[key] = fetch_model(self.who.store, key[0], key[1], spec=self.spec)
            while len(self._models) > _MODEL_CACHE:
                del self._models[next(iter(self._models))]
        return self._models[key]

    def global_model(self, round: int) -> FetchedModel:
        """The model round ``round`` starts from: the initial model, or round − 1's result."""
        models = self.who.deployment.models
        if round == 0:
            digest, codec = models.initialModel(self.task_id)
        else:
            digest, codec = models.roundModel(self.task_id, round - 1)
        if not any(digest):
            raise RoleError(f"task {self.task_id} has no global model for round {round} yet")
        return self.model(digest, codec)

    # -- acting -----------------------------------------------------------------------------

    def send(self, fn: str, *args: Any, value: int = 0) -> TxResult:
        """Send ``TaskManager.fn(*args)`` from this participant."""
        method = getattr(self.who.tasks, fn)
        result: TxResult = method(*args, sender=self.who.account, value=value)
        return result

    def member_role(self) -> int:
        """0 none (or settled), 1 client, 2 miner."""
        return int(self.who.tasks.memberOf(self.task_id, self.who.address).role)

    def claim(self) -> ClaimResult:
        """Settle this participant's membership of an ended task, then withdraw its balance.

        The withdrawal is the participant's whole internal balance on the TaskManager (pull
        payments are per account, not per task). Safe to repeat: an already settled membership
        is skipped, a zero balance is not withdrawn.
        """
        settled, details = False, {}
        state = self.state()
        if state.status.ended and self.member_role() != 0:
            try:
                result = self.send("settle", self.task_id, self.who.address)
                settled = True
                for e in result.events:
                    if e.name in ("ClientSettled", "MinerSettled"):
                        details = {k: v for k, v in e.args.items() if k != "taskId"}
            except Exception as exc:
                if error_name(exc) != "TaskManagerNotMember":  # settled meanwhile by someone
                    raise
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance:
            self.send("withdraw", balance)
        return ClaimResult(settled=settled, withdrawn=balance, settlement=details)

    def draw_committee(self, done: str) -> Activity:
        """``drawCommittee``: store the current round's seats, or renew a seed block past
        ``blockhash``'s reach; says ``done`` when it acted. Someone else drawing or renewing
        first (or the round being over) is no error: the caller looks again."""
        try:
            self.send("drawCommittee", self.task_id)
        except Exception as exc:
            if error_name(exc) in (
                "TaskManagerCommitteeAlreadyDrawn", "TaskManagerWrongStatus",
                "TaskManagerSeedExpired",
            ):  # fmt: skip
                return Activity.WAITING
            raise
        self.who.say(done)
        return Activity.ACTED

    def leave(self) -> LeaveResult:
        """Leave a task that has not started: the mortgage or stake comes back, then the whole
        internal balance is withdrawn. A client's unused join permits die with it (its nonce
        moves on). The member that joined last in the same role takes this one's index; it is
        read from the task's events.

        Raises:
            RoleError: the task has started (or ended), or this key is not a member.
        """
        state = self.state()
        if state.status is not TaskStatus.JOINING:
            raise RoleError(
                f"task {self.task_id} is {state.status.name.lower()}: members can only leave "
                "before it starts"
            )
        role = self.member_role()
        if role == 0:
            raise RoleError(f"{self.who.address} is not a member of task {self.task_id}")
        members = self.log.clients() if role == 1 else self.log.miners()
        last = members[-1] if members else self.who.address
        result = self.send("leaveTask", self.task_id, last)
        refund = int(result.event("MemberLeft").args["refund"])
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance:
            self.send("withdraw", balance)
        return LeaveResult("client" if role == 1 else "miner", refund, balance)

    # -- driving ----------------------------------------------------------------------------

    def step(self) -> Activity:
        """Do the next thing (subclasses)."""
        raise NotImplementedError

    def run(
        self,
        *,
        poll: float = 1.0,
        timeout: float | None = None,
        on_wait: Callable[[TaskRole], None] | None = None,
        node_timeout: float | None = DEFAULT_NODE_TIMEOUT,
    ) -> None:
        """Step until done, sleeping ``poll`` seconds whenever the role is waiting.

        While the node is unreachable (a :class:`ChainConnectionError` from a step or from
        ``on_wait``), the role says so once, looks again with a capped exponential backoff
        (:class:`~fedchain.chain.outage.NodeOutage`: 1 s doubling to 10 s), says once when the
        node is back, and carries on. Before the next step it settles what it may have left in
        flight (:meth:`~fedchain.chain.transact.Transactor.reconcile`: transactions sent but
        without a receipt seen, cached nonces) and does not step while one is still pending
        (that counts as the outage going on); the step then re-reads the chain, so nothing is
        sent twice blindly.

        Args:
            poll: seconds between steps while waiting.
            timeout: give up after this many seconds in all.
            on_wait: called before each sleep while waiting (e.g. a progress display).
            node_timeout: give up after the node was unreachable this long in a row (None:
                wait for it forever).

        Raises:
            RoleTimeoutError: not done after ``timeout`` seconds.
            NodeWaitTimeoutError: the node stayed unreachable for ``node_timeout`` seconds.
        """
        start = time.monotonic()
        outage: NodeOutage | None = None
        while True:
            try:
                if outage is not None:
                    transactor = self.who.chain.transactor
                    transactor.reconcile()
                    if transactor.unconfirmed:  # still pending: stepping could send it twice
                        raise ChainConnectionError(
                            f"{len(transactor.unconfirmed)} transaction(s) still pending after "
                            f"the node came back: {', '.join(transactor.unconfirmed)}"
                        )
                activity = self.step()
                if outage is not None:
                    self.who.say(
                        f"node reachable again ({outage.url}) after "
                        f"{format_seconds(time.monotonic() - outage.since)}; carrying on"
                    )
                    outage = None
                if activity is Activity.DONE:
                    return
                if activity is Activity.WAITING and on_wait is not None:
                    on_wait(self)
            except ChainConnectionError as exc:
                if outage is None:
                    outage = NodeOutage(self._node_url(exc), exc, node_timeout, say=self.who.say)
                self._check_timeout(start, timeout)
                outage.pause(exc)
                continue
            self._check_timeout(start, timeout)
            if activity is Activity.WAITING:
                time.sleep(poll)

    def _node_url(self, exc: ChainConnectionError) -> str:
        chain = self.who.chain
        return redact_url(chain.url) if chain.url else chain.kind

    def _check_timeout(self, start: float, timeout: float | None) -> None:
        if timeout is not None and time.monotonic() - start > timeout:
            raise RoleTimeoutError(
                f"{self.who.name or self.who.address}: task {self.task_id} not done after "
                f"{timeout:g} s"
            )


class MemberRole(TaskRole):
    """A role that joins the task (client or miner): the phases they share.

    Subclasses set :attr:`ROLE` (the contract's MemberRole: 1 client, 2 miner) and
    :attr:`KIND`, implement :meth:`join`, and call :meth:`lifecycle` first in :meth:`step`.
    """

    ROLE: ClassVar[int] = 0
    KIND: ClassVar[str] = "member"

    def __init__(self, who: Participant, task_id: int, *, log: TaskLog | None = None) -> None:
        super().__init__(who, task_id, log=log)
        self.claimed: ClaimResult | None = None
        self._joined = False
        self._epoch = self.log.epoch

    def forget_rolled_back(self) -> None:
        """Forget what was derived from blocks the chain rolled back (:attr:`TaskLog.epoch`
        moved): a join, a submission or an attestation in them may be undone. Subclasses
        extend it with their own caches."""
        self._joined = False

    def join(self, state: TaskState | None = None) -> bool:
        """Register and join the task unless done; returns whether a transaction was sent."""
        raise NotImplementedError

    def lifecycle(self, state: TaskState) -> Activity | None:
        """Claim once the task has ended, join while it is joining, and check membership once
        it runs. Returns None when the task is running with this participant in it."""
        if self.log.epoch != self._epoch:  # the chain rolled back under the log
            self._epoch = self.log.epoch
            self.who.say("the chain rolled back (a node restarted from an older state); "
                         "re-reading it")  # fmt: skip
            self.forget_rolled_back()
        if state.status.ended:
            if self.claimed is None:
                self.claimed = self.claim()
                if self.claimed.settled or self.claimed.withdrawn:
                    self.who.say(f"claimed: withdrew {format_wei(self.claimed.withdrawn)}")
            return Activity.DONE
        if state.status is TaskStatus.JOINING:
            if self._joined and self.member_role() != self.ROLE:
                self._joined = False  # the join is not on chain (any more): join again
            if not self._joined:
                return Activity.ACTED if self.join(state) else Activity.WAITING
            return Activity.WAITING
        if not self._joined:
            if self.member_role() != self.ROLE:
                self.who.say(f"not a {self.KIND} of task {self.task_id}: nothing to do")
                return Activity.DONE
            self._joined = True
        return None
