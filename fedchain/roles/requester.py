"""The requester role: publish a task from a task file, start it, see it through, get the model.

:meth:`Requester.publish` builds the initial model from the task file's model spec and seed,
puts it on the store with the task manifest in its metadata, and creates the task with the
whole reward escrowed. :meth:`Requester.step` then starts the task as soon as it is full
(``max_clients`` clients and a full committee of miners) or, failing that, at the join deadline;
cancels it when nobody came; once it has ended, settles whoever has not claimed after
``settle_after`` seconds (the refund of what nobody earned is credited when the last member is
settled) and withdraws. :meth:`Requester.final_model` fetches and checks the result.
"""

from __future__ import annotations

import time

from fedchain.learning import build_model, get_state
from fedchain.roles.base import Activity, Participant, TaskRole
from fedchain.roles.blobs import MANIFEST_KEY, FetchedModel, publish_model
from fedchain.roles.chainview import TaskLog, TaskStatus, chain_now, error_name
from fedchain.roles.errors import RoleError
from fedchain.roles.taskfile import TaskFile
from fedchain.storage import ModelMetadata

__all__ = ["Requester", "publish_task"]


def publish_task(who: Participant, task: TaskFile, *, request_key: bytes = bytes(32)) -> int:
    """Put the initial model (with the manifest) on the store and create the task.

    Returns the new task's id.
    """
    spec = task.model
    initial = get_state(build_model(spec, seed=task.model_seed))
    metadata = ModelMetadata(
        task_id=0, round=0, author=who.address, num_samples=0, model_spec=spec.name,
        model_spec_hash="0x" + spec.spec_hash(), kind="initial",
        extra={MANIFEST_KEY: task.manifest().to_json()},
    )  # fmt: skip
    published = publish_model(who.store, initial, metadata)
    onchain = task.onchain_spec(
        initial_model=published.digest, initial_codec=published.codec,
        join_deadline=chain_now(who.chain) + task.join_window, request_key=request_key,
    )  # fmt: skip
    result = who.tasks.createTask(onchain, sender=who.account, value=task.escrow)
    task_id = int(result.event("TaskCreated").args["taskId"])
    who.say(
        f"created task {task_id}: {task.rounds} rounds, up to {task.max_clients} clients, "
        f"escrow {task.escrow} wei, initial model {published.cid}"
    )
    return task_id


class Requester(TaskRole):
    """The requester following its task.

    Args:
        who: the requester.
        task_id: its task (see :func:`publish_task`).
        settle_after: seconds after the end before it settles members that have not claimed.
        log: a shared :class:`TaskLog`.
    """

    def __init__(
        self,
        who: Participant,
        task_id: int,
        *,
        settle_after: float = 0.0,
        log: TaskLog | None = None,
    ) -> None:
        super().__init__(who, task_id, log=log)
        self.settle_after = settle_after
        self._ended_at: float | None = None
        self.withdrawn = 0

    def step(self) -> Activity:
        """Start, cancel or wind up the task as its state requires."""
        state = self.state()
        if state.requester.lower() != self.who.address.lower():
            raise RoleError(f"task {self.task_id} belongs to {state.requester}, not to this key")
        if state.status is TaskStatus.JOINING:
            full = state.client_count >= state.max_clients
            committee_full = state.miner_count >= state.committee_size
            past = chain_now(self.who.chain) > state.join_deadline
            if (full and committee_full) or (past and state.client_count and state.miner_count):
                return self._call("startTask", "started")
            if past:
                return self._call("cancelTask", "cancelled (nobody joined in time)")
            return Activity.WAITING
        if state.status is TaskStatus.RUNNING:
            return Activity.WAITING
        if self._ended_at is None:
            self._ended_at = time.monotonic()
        if state.unsettled:
            if time.monotonic() - self._ended_at < self.settle_after:
                return Activity.WAITING
            pending = [
                a
                for a in self.log.clients() + self.log.miners()
                if int(self.who.tasks.memberOf(self.task_id, a).role) != 0
            ]
            if pending:
                self.send("settleMany", self.task_id, pending)
                self.who.say(f"settled {len(pending)} member(s) that had not claimed")
                return Activity.ACTED
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance:
            self.send("withdraw", balance)
            self.withdrawn += balance
            self.who.say(f"withdrew {balance} wei (refund)")
        return Activity.DONE

    def _call(self, fn: str, what: str) -> Activity:
        try:
            self.send(fn, self.task_id)
        except Exception as exc:
            if error_name(exc) in ("TaskManagerWrongStatus", "TaskManagerNotCancellable"):
                return Activity.WAITING  # someone else did it first
            raise
        self.who.say(f"task {self.task_id} {what}")
        return Activity.ACTED

    def final_model(self) -> FetchedModel:
        """The task's final global model, checked against its digest and the model spec.

        Raises:
            RoleError: the task has not finished.
            StorageError: the blob is missing or invalid.
        """
        digest, codec = self.who.deployment.models.finalModel(self.task_id)
        if not any(bytes(digest)):
            raise RoleError(f"task {self.task_id} has no final model (it has not finished)")
        return self.model(digest, codec)
