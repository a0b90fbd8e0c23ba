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

from fedchain.learning import build_model, get_state
from fedchain.roles.base import Activity, Participant, TaskRole
from fedchain.roles.blobs import MANIFEST_KEY, FetchedModel, publish_model
from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, chain_now, error_name
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
        self.withdrawn = 0

    def step(self) -> Activity:
        """Start, cancel or wind up the task as its state requires."""
        state = self.state()
        if state.requester.lower() != self.who.address.lower():
            raise RoleError(f"task {self.task_id} belongs to {state.requester}, not to this key")
        now = chain_now(self.who.chain)
        if state.status is TaskStatus.JOINING:
            full = state.client_count >= state.max_clients
            committee_full = state.miner_count >= state.committee_size
            past = now > state.join_deadline
            if (full and committee_full) or (past and state.client_count and state.miner_count):
                return self._call("startTask", "started")
            if past:
                return self._call("cancelTask", "cancelled (nobody joined in time)")
            return Activity.WAITING
        if state.status is TaskStatus.RUNNING:
            return self._keep_alive(state, now)
        if state.unsettled:
            if now - self._ended_at() < self.settle_after:
                return Activity.WAITING
            return self._settle_stragglers()
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance:
            self.send("withdraw", balance)
            self.withdrawn += balance
            self.who.say(f"withdrew {balance} wei (refund)")
        return Activity.DONE

    def _keep_alive(self, state: TaskState, now: int) -> Activity:
        """A round stuck a whole verdict window past its deadline (every committee member down,
        say): replace its leader, or cancel the task when no leader is left. Anyone may."""
        if now <= state.verdict_deadline + state.verdict_duration:
            return Activity.WAITING
        if state.attempt + 1 >= state.committee_size:
            return self._call("cancelTask", f"cancelled (round {state.round} has no leader left)")
        return self._call("replaceLeader", f"round {state.round}: leader replaced")

    def _ended_at(self) -> int:
        """Chain time of the task's end (so ``settle_after`` survives a restart)."""
        end = self.log.last("TaskFinished") or self.log.last("TaskCancelled")
        if end is None:
            return chain_now(self.who.chain)
        return int(self.who.chain.w3.eth.get_block(end.block_number)["timestamp"])

    def _settle_stragglers(self) -> Activity:
        settled = {
            str(e.args.get("client") or e.args.get("miner")).lower()
            for e in self.log.events("ClientSettled") + self.log.events("MinerSettled")
        }
        pending = [a for a in self.log.clients() + self.log.miners() if a.lower() not in settled]
        if not pending:
            return Activity.WAITING  # the last settlement is not in the log yet
        try:
            self.send("settleMany", self.task_id, pending)
        except Exception as exc:
            if error_name(exc) == "TaskManagerNotMember":
                return Activity.WAITING  # one of them settled meanwhile; look again
            raise
        self.who.say(f"settled {len(pending)} member(s) that had not claimed")
        return Activity.ACTED

    def _call(self, fn: str, what: str) -> Activity:
        try:
            self.send(fn, self.task_id)
        except Exception as exc:
            if error_name(exc) in (
                "TaskManagerWrongStatus", "TaskManagerNotCancellable",
                "TaskManagerVerdictWindowOpen", "TaskManagerNoLeaderLeft",
            ):  # fmt: skip
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
