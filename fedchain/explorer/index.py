"""An incremental index of a deployment's events: tasks, participants, transactions, blobs.

Each :meth:`ChainIndex.refresh` reads only the blocks mined since the last one (in chunks, as
:func:`fedchain.roles.chainview.read_logs` does), at most once per ``min_interval`` seconds; a
chain that rolled back under the index (its tip's hash changed) is read again from the start.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from fedchain.chain.events import DecodedEvent, decode_logs
from fedchain.roles.chainview import read_logs
from fedchain.storage import digest_to_cid

__all__ = ["BlobInfo", "ChainIndex"]


@dataclass
class BlobInfo:
    """What the chain says of a blob: its kind, task, round, author and the transaction that
    first named it; ``also`` the other kinds the chain gives the same bytes (the last round's
    global model is also the task's final model)."""

    cid: str
    kind: str
    task_id: int | None
    round: int | None
    author: str | None
    tx_hash: str
    also: list[str] = field(default_factory=list)


@dataclass
class ChainIndex:
    """Every event of a deployment's contracts, indexed by task, address, tx and CID."""

    source: Any
    min_interval: float = 0.5
    events: list[DecodedEvent] = field(default_factory=list)
    by_task: dict[int, list[DecodedEvent]] = field(default_factory=dict)
    by_address: dict[str, list[DecodedEvent]] = field(default_factory=dict)
    by_tx: dict[str, list[DecodedEvent]] = field(default_factory=dict)
    blobs: dict[str, BlobInfo] = field(default_factory=dict)
    head: int = -1
    #: How many times the chain rolled back under the index (part of every cache key).
    rollbacks: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._next = int(self.source.from_block)
        self._tip: tuple[int, bytes] | None = None
        self._checked = 0.0

    def refresh(self, *, force: bool = False) -> int:
        """Read the new blocks; returns the latest block number indexed."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.min_interval:
                return self.head
            self._checked = now
            chain = self.source.chain
            latest = chain.block_number()
            if self._tip is not None:
                number, seen = self._tip
                if latest < number or chain.block_hash(number) != seen:
                    self._reset()
            if latest >= self._next:
                dep = self.source.deployment
                logs = read_logs(
                    chain, address=[dep.registry.address, *dep.log_addresses(models=True)],
                    topics=None, from_block=self._next, to_block=latest,
                )  # fmt: skip
                for e in decode_logs(logs):
                    self._add(e)
                self._next = latest + 1
            tip = chain.block_hash(latest)
            self._tip = (latest, tip) if tip is not None else None
            self.head = latest
            return latest

    def _reset(self) -> None:
        self.rollbacks += 1
        self.events, self.by_task, self.by_address, self.by_tx, self.blobs = [], {}, {}, {}, {}
        self._next = int(self.source.from_block)

    def _add(self, e: DecodedEvent) -> None:
        self.events.append(e)
        self.by_tx.setdefault(e.tx_hash.lower(), []).append(e)
        task = e.args.get("taskId")
        if task is not None:
            self.by_task.setdefault(int(task), []).append(e)
        for value in e.args.values():  # every address argument, whatever the ABI names it
            if isinstance(value, str) and len(value) == 42 and value.startswith("0x"):
                self.by_address.setdefault(value.lower(), []).append(e)
        self._blob(e)

    def _blob(self, e: DecodedEvent) -> None:
        a = e.args
        task = int(a["taskId"]) if "taskId" in a else None
        found: list[tuple[bytes, int, str, int | None, str | None]] = []
        if e.name == "UpdateSubmitted":
            found.append((a["digest"], a["codec"], "update", int(a["round"]), str(a["client"])))
        elif e.name == "VerdictPosted":
            v = a["verdict"]
            found.append(
                (v["globalModel"], v["codec"], "global", int(a["round"]), str(a["leader"]))
            )
        elif e.name in ("RoundFinalized", "RoundModelRecorded"):
            digest = a["globalModel"] if e.name == "RoundFinalized" else a["digest"]
            found.append((digest, a["codec"], "global", int(a["round"]), None))
        elif e.name == "InitialModelRecorded":
            found.append((a["digest"], a["codec"], "initial", None, None))
        elif e.name in ("TaskFinished", "FinalModelRecorded"):
            digest = a["finalModel"] if e.name == "TaskFinished" else a["digest"]
            found.append((digest, a["codec"], "final", None, None))
        elif e.name in ("PerturbedModelPublished", "PerturbedModelRecorded"):
            found.append((a["digest"], a["codec"], "perturbed", None, None))
        for digest, codec, kind, round_, author in found:
            cid = digest_to_cid(bytes(digest), int(codec))
            known = self.blobs.get(cid)
            if known is None:
                self.blobs[cid] = BlobInfo(cid, kind, task, round_, author, e.tx_hash)
            elif kind != known.kind and kind not in known.also:
                known.also.append(kind)

    def task_ids(self) -> list[int]:
        """Every task created, newest first."""
        return sorted((t for t, evs in self.by_task.items()
                       if any(e.name == "TaskCreated" for e in evs)), reverse=True)  # fmt: skip

    def last_block_of(self, task_id: int) -> int:
        """The block of the task's latest event (-1 for none)."""
        evs = self.by_task.get(task_id, [])
        return max((e.block_number for e in evs), default=-1)

    def task_key(self, task_id: int) -> tuple[int, int]:
        """What a task's cached audit and page are keyed on: the rollbacks seen and the block of
        its latest event (a new event, or a rolled-back chain, makes them stale)."""
        return self.rollbacks, self.last_block_of(task_id)
