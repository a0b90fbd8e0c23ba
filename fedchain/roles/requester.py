"""The requester role: publish a task from a task file, start it, see it through, get the model.

:meth:`Requester.publish` builds the initial model from the task file's model spec and seed,
puts it on the store with the task manifest in its metadata, and creates the task with the
whole reward escrowed. :meth:`Requester.step` then starts the task early only when nobody else
can join (``max_clients`` clients and all 64 miner seats taken), else once the join deadline
passed; it cancels it then when it cannot start (no client, fewer miners than
``committee_size``, or less than ``min_total_stake`` staked); while it runs it replaces a leader
(or cancels) when a round is stuck a whole verdict window past its deadline; once it has ended,
settles whoever has not claimed after
``settle_after`` seconds (the refund of what nobody earned is credited when the last member is
settled) and withdraws. :meth:`Requester.final_model` fetches and checks the result.

:func:`publish_task` refuses to publish a task this requester already published from the same
task file while that one has not ended (:class:`DuplicateTaskError`; ``force=True`` publishes
anyway): it finds it among the chain's ``TaskCreated`` events of this requester, which every
machine sees, by the same ``TaskSpec`` (the join deadline aside) and the same initial model
blob (which carries the manifest: model, seed, data set, training, privacy, verification).
A round that finalizes with no submission at all is reported as a warning.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Final

from fedchain.learning import build_model, get_state, perturb_model
from fedchain.report.labels import format_wei
from fedchain.roles.base import Activity, Participant, TaskRole
from fedchain.roles.blobs import MANIFEST_KEY, RELEASE_KEY, FetchedModel, publish_model
from fedchain.roles.chainview import (
    TaskLog,
    TaskState,
    TaskStatus,
    chain_now,
    error_name,
    read_task,
)
from fedchain.roles.errors import RoleError
from fedchain.roles.taskfile import TaskFile
from fedchain.storage import ModelMetadata, cid_to_digest, digest_to_cid, encode_model, verify_cid

__all__ = [
    "PENDING_WAIT",
    "DuplicateTaskError",
    "PendingTransactionsError",
    "Requester",
    "find_open_duplicate",
    "initial_blob",
    "publish_task",
]

# TaskSpec fields that differ between two publications of one task file: the join deadline (the
# creation time + the join window), and the initial model's address, compared as a blob instead
# (its CID depends on the store: raw on a local store, dag-pb on Kubo).
_PER_PUBLICATION: Final = ("joinDeadline", "initialModel", "initialCodec")
#: Seconds publish_task waits for the requester's pending transactions before it refuses.
PENDING_WAIT: Final = 30.0


#: Seconds added to the join deadline for the block that carries ``createTask``, stamped a little
#: after the time read here: a join window equal to the deployment's least one still passes.
JOIN_DEADLINE_MARGIN = 2

#: Liveness calls (start, cancel, replace) in a row that may revert without data, racing a
#: deadline, before the requester gives up.
_BLIND_REVERT_RETRIES = 5

#: Miner seats of a task (the contract's ``_MAX_MINERS``).
MAX_MINERS = 64


class DuplicateTaskError(RoleError):
    """This requester already published the same task, and that task has not ended.

    Attributes:
        task_id: the task already published.
    """

    def __init__(self, task_id: int, message: str) -> None:
        super().__init__(message)
        self.task_id = task_id


def _wait_for_pending(who: Participant, *, timeout: float = PENDING_WAIT) -> None:
    eth: Any = who.chain.w3.eth
    deadline = time.monotonic() + timeout
    while True:
        waiting = int(eth.get_transaction_count(who.address, "pending")) - int(
            eth.get_transaction_count(who.address, "latest")
        )
        if waiting <= 0:
            return
        if time.monotonic() >= deadline:
            raise PendingTransactionsError(
                f"{who.address} has {waiting} transaction(s) still pending on the node after "
                f"{timeout:g} s (an earlier 'task create' cut off while the node was away?); "
                "look for the task with 'fedchain task list --mine' once they are mined"
            )
        time.sleep(0.5)


class PendingTransactionsError(RoleError):
    """The requester's key has transactions pending on the node: one may be a ``createTask``
    that would make a second escrow of the same task."""


def initial_blob(who: Participant, task: TaskFile) -> bytes:
    """The initial model blob ``task`` starts from, authored by ``who``, with the manifest.

    The same task file and requester always give the same bytes (hence the same CID).
    """
    spec = task.model
    initial = get_state(build_model(spec, seed=task.model_seed))
    metadata = ModelMetadata(
        task_id=0, round=0, author=who.address, num_samples=0, model_spec=spec.name,
        model_spec_hash="0x" + spec.spec_hash(), kind="initial",
        extra={MANIFEST_KEY: task.manifest().to_json()},
    )  # fmt: skip
    return encode_model(initial, metadata=metadata)


def find_open_duplicate(
    who: Participant, task: TaskFile, blob: bytes, *, request_key: bytes = bytes(32)
) -> int | None:
    """The newest task ``who`` created from the same task file that has not ended, or None.

    "The same": every ``TaskSpec`` field but the join deadline equal, and an initial model that
    is ``blob`` (see :func:`initial_blob`). Read from the chain's ``TaskCreated`` events of this
    requester, so a second machine with the same key finds it too.
    """
    wanted = _comparable(task.onchain_spec(
        initial_model=bytes(32), initial_codec=0x55, join_deadline=1, request_key=request_key,
    ))  # fmt: skip
    created = who.tasks.events("TaskCreated", filters={"requester": who.address})
    for event in reversed(created):
        if _comparable(event.args["spec"]) != wanted:
            continue
        task_id = int(event.args["taskId"])
        if read_task(who.tasks, task_id).status.ended:
            continue
        spec = event.args["spec"]
        cid = digest_to_cid(bytes(spec["initialModel"]), int(spec["initialCodec"]))
        if verify_cid(blob, cid):
            return task_id
    return None


def _comparable(spec: Any) -> dict[str, Any]:
    """A ``TaskSpec`` (a dict, or a decoded struct) without its per-publication fields."""
    fields = spec if isinstance(spec, dict) else spec._asdict()
    return {
        k: bytes(v) if isinstance(v, bytes | bytearray) else int(v)
        for k, v in fields.items()
        if k not in _PER_PUBLICATION
    }


def publish_task(
    who: Participant, task: TaskFile, *, request_key: bytes | None = None, force: bool = False
) -> int:
    """Put the initial model (with the manifest) on the store and create the task.

    ``request_key`` is the M3 request the task answers; None: the task file's own
    (:meth:`TaskFile.request_key`, zero without a ``[request]`` section).

    Returns the new task's id.

    Raises:
        DuplicateTaskError: ``who`` already published this task file and that task has not
            ended (see :func:`find_open_duplicate`); ``force=True`` publishes a second one.
        PendingTransactionsError: ``who`` still has transactions pending on the node after
            :data:`PENDING_WAIT` seconds: one may be a ``createTask`` that the duplicate check
            cannot see yet (``force=True`` skips this check too).
        DeploymentError: a mutual-supervision task on a deployment without a ScoreBoard
            (checked before any money moves).
    """
    if task.verification.rule == "mutual":
        who.deployment.require_scores()
    if request_key is None:
        request_key = task.request_key()
    blob = initial_blob(who, task)
    if not force:
        _wait_for_pending(who)  # an earlier createTask in the pool is no TaskCreated yet
        existing = find_open_duplicate(who, task, blob, request_key=request_key)
        if existing is not None:
            raise DuplicateTaskError(
                existing,
                f"task {existing} is this task, already published by {who.address} and not "
                "ended yet",
            )
    cid = who.store.put(blob)
    digest, codec = cid_to_digest(cid)
    onchain = task.onchain_spec(
        initial_model=digest, initial_codec=codec,
        join_deadline=chain_now(who.chain) + task.join_window + JOIN_DEADLINE_MARGIN,
        request_key=request_key,
    )  # fmt: skip
    result = who.tasks.createTask(onchain, sender=who.account, value=task.escrow)
    task_id = int(result.event("TaskCreated").args["taskId"])
    who.say(
        f"created task {task_id}: {task.rounds} rounds, up to {task.max_clients} clients, "
        f"escrow {format_wei(task.escrow)}, initial model {cid}"
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
        self.empty_rounds: list[int] = []  # finalized rounds nobody submitted to (from 0)
        self._blind_reverts = 0  # liveness calls in a row that reverted without data

    def _warn_empty_rounds(self, state: TaskState) -> None:
        """Say loudly, once per process, which finalized rounds had no submission at all."""
        for final in sorted(self.log.events("RoundFinalized"), key=lambda e: e.sort_key):
            r = int(final.args["round"])
            if r in self.empty_rounds or self.log.submissions(r):
                continue
            self.empty_rounds.append(r)
            self.who.say(
                f"WARNING: round {r + 1}/{state.rounds} of task {self.task_id} finalized with no "
                "submissions: no client sent an update, so the global model did not change"
            )

    def step(self) -> Activity:
        """Start, cancel or wind up the task as its state requires."""
        state = self.state()
        if state.requester.lower() != self.who.address.lower():
            raise RoleError(f"task {self.task_id} belongs to {state.requester}, not to this key")
        self._warn_empty_rounds(state)
        now = chain_now(self.who.chain)
        if state.status is TaskStatus.JOINING:
            # The contract lets a requester start early only a task nobody else can join (every
            # client seat and all 64 miner seats taken); otherwise joining stays open to the
            # deadline, so that honest miners can outweigh any sybils the requester brings.
            full = state.client_count >= state.max_clients and state.miner_count >= MAX_MINERS
            shortfall = state.start_shortfall()
            if not shortfall and (full or now > state.join_deadline):
                return self._call("startTask", "started")
            if now > state.join_deadline:
                return self._call("cancelTask", f"cancelled ({shortfall} in time)")
            return Activity.WAITING
        if state.status is TaskStatus.RUNNING:
            return self._keep_alive(state, now)
        if state.status is TaskStatus.FINISHED and self._release_due():
            return self._publish_release(state)
        if state.unsettled:
            if now - self._ended_at() < self.settle_after:
                return Activity.WAITING
            return self._settle_stragglers()
        balance = int(self.who.tasks.balanceOf(self.who.address))
        if balance:
            self.send("withdraw", balance)
            self.withdrawn += balance
            self.who.say(f"withdrew {format_wei(balance)} (refund)")
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

    def _release_due(self) -> bool:
        """Whether the manifest asks for a perturbed release that is not on chain yet."""
        if self.manifest.release is None:
            return False
        digest, _ = self.who.deployment.models.perturbedModel(self.task_id)
        return not any(bytes(digest))

    def _publish_release(self, state: TaskState) -> Activity:
        """Publish the final model perturbed with Laplace(s/ε) noise (002 eq. 5), which the
        request cache then serves. The noise seed is secret (drawn from the OS): a seed anyone
        could derive would let anyone subtract the noise."""
        release = self.manifest.release
        assert release is not None
        final = self.final_model()
        noisy = perturb_model(
            final.state, epsilon=float(release["epsilon"]),
            sensitivity=float(release["sensitivity"]), seed=secrets.randbits(63),
        )  # fmt: skip
        meta = final.metadata
        metadata = ModelMetadata(
            task_id=self.task_id, round=meta.round, author=self.who.address,
            num_samples=meta.num_samples, model_spec=meta.model_spec,
            model_spec_hash=meta.model_spec_hash, kind="global",
            extra={RELEASE_KEY: json.dumps(release, sort_keys=True)},
        )  # fmt: skip
        published = publish_model(self.who.store, noisy, metadata)
        try:
            self.send("publishPerturbedModel", self.task_id, published.digest, published.codec)
        except Exception as exc:
            if error_name(exc) == "ModelRegistryPerturbedModelExists":
                return Activity.WAITING  # an earlier run of this requester published it
            raise
        self.who.say(
            f"task {self.task_id}: published the final model perturbed with Laplace noise at "
            f"epsilon {release['epsilon']:g} (sensitivity {release['sensitivity']:g}): "
            f"{published.cid}"
        )
        return Activity.ACTED

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
                "TaskManagerJoinStillOpen",  # the wall clock passed the deadline, no block yet
            ):  # fmt: skip
                return Activity.WAITING  # someone else did it first, or not yet: look again
            if error_name(exc) == "TaskManagerSeedExpired":
                return self._renew_seed()
            if error_name(exc) == "UnknownRevert" and self._blind_reverts < _BLIND_REVERT_RETRIES:
                # Mined and reverted, yet the replay on the newer state passes: the block was
                # stamped before a deadline the estimate had seen pass. The state decides anew.
                self._blind_reverts += 1
                return Activity.WAITING
            raise
        self._blind_reverts = 0
        self.who.say(f"task {self.task_id} {what}")
        return Activity.ACTED

    def _renew_seed(self) -> Activity:
        """Nobody drew the round's committee within 256 blocks of its seed block, so replacing
        or cancelling cannot draw it either: ``drawCommittee`` gives the round a new seed."""
        return self.draw_committee(
            f"task {self.task_id}: the round's seed expired undrawn; renewed it"
        )

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
