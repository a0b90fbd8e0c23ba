"""What the roles read from the chain: a task's state (one view call) and its events.

Every decision a role takes starts here, so a restarted process sees exactly what a process
that never stopped would see: nothing essential lives only in memory.

- :func:`read_task` snapshots ``TaskManager.taskInfo`` as a :class:`TaskState`;
- :class:`TaskLog` reads a task's events incrementally (every TaskManager event whose first
  indexed argument is the task id) and caches them, so a role polling every second costs one
  ``eth_getLogs`` over the new blocks only;
- :func:`chain_now` is the time the next transaction will see, near enough to decide whether
  a deadline has passed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from fedchain.chain.connection import Chain
from fedchain.chain.contract import BoundContract
from fedchain.chain.errors import ChainConnectionError, ChainError, ContractError
from fedchain.chain.events import DecodedEvent, decode_logs
from fedchain.roles.errors import TaskNotFoundError
from fedchain.verification.sortition import committee as draw_seats
from fedchain.verification.sortition import round_seed

__all__ = [
    "TaskLog",
    "TaskState",
    "TaskStatus",
    "chain_now",
    "draw_round_committee",
    "error_name",
    "read_logs",
    "read_task",
]

#: Blocks per ``eth_getLogs`` call: public nodes cap a log query's range (often at 10,000 or
#: fewer blocks); a node that refuses a range gets it again in halves.
LOG_CHUNK_BLOCKS = 5_000


def read_logs(
    chain: Chain,
    *,
    address: Any,
    topics: list[Any] | None,
    from_block: int,
    to_block: int,
    chunk: int = LOG_CHUNK_BLOCKS,
) -> list[Any]:
    """Raw logs of ``from_block``..``to_block`` read in ranges of at most ``chunk`` blocks,
    halving a range the node refuses (down to one block, then the error stands)."""
    logs: list[Any] = []
    start = from_block
    size = max(1, chunk)
    while start <= to_block:
        end = min(to_block, start + size - 1)
        try:
            logs.extend(
                chain.get_logs(address=address, topics=topics, from_block=start, to_block=end)
            )
        except ChainConnectionError:
            raise  # the node is gone, not refusing the range
        except ChainError:
            if size == 1:
                raise
            size = max(1, size // 2)
            continue
        start = end + 1
    return logs


class TaskStatus(IntEnum):
    """The contract's ``TaskStatus`` enum."""

    NONE = 0
    JOINING = 1
    RUNNING = 2
    FINISHED = 3
    CANCELLED = 4

    @property
    def ended(self) -> bool:
        """Finished or cancelled: only settlement and withdrawals remain."""
        return self in (TaskStatus.FINISHED, TaskStatus.CANCELLED)


@dataclass(frozen=True)
class TaskState:
    """One snapshot of ``taskInfo`` (field names in Python style; amounts in wei)."""

    task_id: int
    status: TaskStatus
    requester: str
    policy: int
    rounds: int
    round: int
    client_count: int
    miner_count: int
    committee_size: int
    attempt: int
    max_clients: int
    byzantine_f: int
    join_deadline: int
    submit_deadline: int
    verdict_deadline: int
    submit_duration: int
    verdict_duration: int
    per_round_reward: int
    reward_unit: int
    client_mortgage: int
    min_miner_stake: int
    min_total_stake: int
    total_stake: int
    pot: int
    unsettled: int

    def start_shortfall(self) -> str:
        """Why the task cannot start yet ("" when it can): every unmet condition of the
        contract's, joined with "; "."""
        missing = []
        if self.client_count == 0:
            missing.append("no client joined")
        if self.miner_count < self.committee_size:
            missing.append(f"{self.miner_count} of the {self.committee_size} miners its "
                           "committee needs joined")  # fmt: skip
        if self.total_stake < self.min_total_stake:
            missing.append(f"the miners staked {self.total_stake} of the "
                           f"{self.min_total_stake} wei it needs")  # fmt: skip
        return "; ".join(missing)


def read_task(tasks: BoundContract, task_id: int, *, log: TaskLog | None = None) -> TaskState:
    """Snapshot task ``task_id``.

    ``taskInfo`` reports the committee size only once the task started (0 while it is
    joining); a joining task's :attr:`TaskState.committee_size` is its spec's, from its
    ``TaskCreated`` event (in ``log`` when given, refreshed, else read from the node).

    Raises:
        TaskNotFoundError: the deployment has no such task.
    """
    info = tasks.taskInfo(task_id)
    status = TaskStatus(int(info.status))
    if status is TaskStatus.NONE:
        raise TaskNotFoundError(f"task {task_id} does not exist on TaskManager {tasks.address}")
    if status is TaskStatus.JOINING and int(info.committeeSize) == 0:
        info = info._replace(committeeSize=_spec_committee_size(tasks, task_id, log))
    names = {
        "policy": "policy", "rounds": "rounds", "round": "round", "client_count": "clientCount",
        "miner_count": "minerCount", "committee_size": "committeeSize", "attempt": "attempt",
        "max_clients": "maxClients", "byzantine_f": "byzantineF", "join_deadline": "joinDeadline",
        "submit_deadline": "submitDeadline", "verdict_deadline": "verdictDeadline",
        "submit_duration": "submitDuration", "verdict_duration": "verdictDuration",
        "per_round_reward": "perRoundReward", "reward_unit": "rewardUnit",
        "client_mortgage": "clientMortgage", "min_miner_stake": "minMinerStake", "pot": "pot",
        "unsettled": "unsettled", "min_total_stake": "minTotalStake", "total_stake": "totalStake",
    }  # fmt: skip
    values = {py: int(getattr(info, sol)) for py, sol in names.items()}
    return TaskState(task_id=task_id, status=status, requester=str(info.requester), **values)


def _spec_committee_size(tasks: BoundContract, task_id: int, log: TaskLog | None) -> int:
    """The committee size a task was created with (its ``TaskCreated`` spec; 0 if unseen)."""
    created = log.last("TaskCreated") if log is not None else None
    if created is None:
        found = tasks.events("TaskCreated", filters={"taskId": task_id})
        created = found[-1] if found else None
    if created is None:
        return 0
    spec = created.args["spec"]
    size = spec["committeeSize"] if isinstance(spec, Mapping) else spec.committeeSize
    return int(size)


def chain_now(chain: Chain, *, latest: int | None = None) -> int:
    """The time the next transaction will (at least) see.

    The embedded chain keeps its own clock (moved by :meth:`Chain.increase_time`); a real node
    stamps a new block with the wall clock, which may be ahead of the latest block when no
    transaction came for a while. ``latest`` is the latest block's timestamp when the caller
    has read it already.
    """
    latest = chain.timestamp() if latest is None else latest
    if chain.kind == "embedded":
        return latest
    return max(latest, int(time.time()))


def error_name(exc: BaseException) -> str:
    """The Solidity custom error's name of a contract revert (``""`` for anything else)."""
    return str(getattr(exc, "error_name", "")) if isinstance(exc, ContractError) else ""


class TaskLog:
    """The events of one task, read incrementally and cached.

    Args:
        tasks: the TaskManager binding.
        task_id: the task.
        from_block: the first block to read (the block of ``TaskCreated`` when known; reading
            from 0 works everywhere but is slower on the embedded chain).
        addresses: the contracts whose events to read (default: the TaskManager's); the audit
            adds the ModelRegistry, whose events also carry the task id first.

    Several roles in one process may share one log.

    When the chain rolls back under the log (a node restarted from a state saved a few blocks
    earlier, a reorganisation, a snapshot revert), the cached events are dropped and read again,
    and :attr:`epoch` grows by one so roles can forget what they derived from them.
    """

    def __init__(
        self,
        tasks: BoundContract,
        task_id: int,
        *,
        from_block: int = 0,
        addresses: list[str] | None = None,
    ) -> None:
        self.tasks = tasks
        self.addresses = list(addresses) if addresses else [tasks.address]
        self.task_id = task_id
        self.epoch = 0
        self._from_block = from_block
        self._next_block = from_block
        self._tip: tuple[int, bytes] | None = None
        self._events: list[DecodedEvent] = []
        self._by_name: dict[str, list[DecodedEvent]] = {}
        self._topic = "0x" + task_id.to_bytes(32, "big").hex()

    def refresh(self) -> list[DecodedEvent]:
        """Read the blocks mined since the last call; returns the new events."""
        chain = self.tasks.chain
        head: Any = chain.w3.eth.get_block("latest")
        latest, head_hash = int(head["number"]), bytes(head["hash"])
        if self._tip is not None:
            number, seen = self._tip
            if (latest, head_hash) == (number, seen):
                return []  # nothing new (one call per idle step)
            if latest < number or chain.block_hash(number) != seen:  # rolled back under us
                self.epoch += 1
                self._next_block = self._from_block
                self._events, self._by_name = [], {}
        if latest < self._next_block:
            self._tip = (latest, head_hash)
            return []
        logs = read_logs(
            chain,
            address=self.addresses if len(self.addresses) > 1 else self.addresses[0],
            topics=[None, self._topic],
            from_block=self._next_block,
            to_block=latest,
        )
        fresh = [e for e in decode_logs(logs) if int(e.args.get("taskId", -1)) == self.task_id]
        self._events.extend(fresh)
        for e in fresh:
            self._by_name.setdefault(e.name, []).append(e)
        self._next_block = latest + 1
        self._tip = (latest, head_hash)
        return fresh

    def events(self, name: str | None = None, **match: Any) -> list[DecodedEvent]:
        """Cached events (call :meth:`refresh` first), optionally by name and argument values."""
        pool = self._events if name is None else self._by_name.get(name, [])
        return [e for e in pool if all(_same(e.args.get(k), v) for k, v in match.items())]

    def last(self, name: str, **match: Any) -> DecodedEvent | None:
        """The latest cached event of that name matching ``match``, or None."""
        found = self.events(name, **match)
        return found[-1] if found else None

    def clients(self) -> list[str]:
        """Client addresses in index order (``ClientJoined`` and ``MemberLeft`` replayed)."""
        return self._members(1)

    def miners(self) -> list[str]:
        """Miner addresses in index order (``MinerJoined`` and ``MemberLeft`` replayed)."""
        return self._members(2)

    def client_samples(self) -> dict[str, int]:
        """Each member client's sample count fixed at join (lower-case address → count): what
        its data profiles in the category declared, from its ``ClientJoined``."""
        joins = sorted(self.events("ClientJoined"), key=lambda e: e.sort_key)
        fixed = {str(e.args["client"]).lower(): int(e.args["samples"]) for e in joins}
        return {a.lower(): fixed[a.lower()] for a in self.clients()}

    def _members(self, role: int) -> list[str]:
        """The members of one role by index, as the contract keeps them: a joiner takes the next
        index (or, outbidding the lowest stake of a full task, the index of the miner it
        displaced, in the same transaction); a member that leaves before the start hands its
        index to the last one of its role."""
        joined, who = ("ClientJoined", "client") if role == 1 else ("MinerJoined", "miner")
        moves = sorted(self.events(joined) + self.events("MemberLeft"), key=lambda e: e.sort_key)
        displaced = {e.tx_hash for e in moves if e.name == joined}
        members: list[str] = []
        for e in moves:
            if e.name == joined:
                index, address = int(e.args["index"]), str(e.args[who])
                if index < len(members):
                    members[index] = address
                else:
                    members.append(address)
                continue
            if int(e.args["role"]) != role:
                continue
            account = str(e.args["account"]).lower()
            at = next((i for i, a in enumerate(members) if a.lower() == account), None)
            if at is None or e.tx_hash in displaced:
                continue  # outbid: the newcomer's MinerJoined (next in this transaction) takes it
            last = members.pop()
            if at < len(members):
                members[at] = last
        return members

    def submissions(self, round: int) -> dict[str, DecodedEvent]:
        """Each client's first ``UpdateSubmitted`` of ``round`` (later ones do not count)."""
        first: dict[str, DecodedEvent] = {}
        for e in self.events("UpdateSubmitted", round=round):
            first.setdefault(str(e.args["client"]).lower(), e)
        return first

    def created_block(self) -> int | None:
        """The block of ``TaskCreated``, once read."""
        created = self.last("TaskCreated")
        return created.block_number if created is not None else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def draw_round_committee(tasks: BoundContract, chain: Chain, task_id: int, round: int) -> list[str]:
    """A round's committee seats computed here from its seed block's hash, by the contract's
    rule: what ``committee(taskId, round)`` returns once the seed block is past, available in
    the seed block itself (whose hash a contract cannot read yet)."""
    seed_block = int(tasks.seedBlockOf(task_id, round))
    block_hash = chain.block_hash(seed_block)
    if block_hash is None:
        raise TaskNotFoundError(f"task {task_id} round {round}: seed block {seed_block} is unknown")
    info = tasks.taskInfo(task_id)
    miners, stakes = [], []
    for i in range(int(info.minerCount)):
        miner, stake = tasks.minerAt(task_id, i)
        miners.append(str(miner))
        stakes.append(int(stake))
    seed = round_seed(block_hash, task_id, round)
    return draw_seats(seed, miners, stakes, int(info.committeeSize))
