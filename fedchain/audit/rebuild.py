"""A task rebuilt from its events alone: no ``eth_call``, so a recorded chain works as well as
a live node, and nothing the auditor relies on comes from a view the audited contract answers.

:func:`task_context` reads every event of the task (TaskManager and ModelRegistry, chunked
from the deployment block) and the registry's outcome events, and snapshots the task's state
as :class:`~fedchain.roles.chainview.TaskState` would show it, from the events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fedchain.chain.abi import decode_call
from fedchain.chain.events import DecodedEvent, decode_logs
from fedchain.errors import FedChainError
from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, read_logs

__all__ = ["AuditError", "TaskContext", "spec_field", "task_context"]


class AuditError(FedChainError):
    """The task cannot be audited at all (no such task on the deployment)."""


def spec_field(spec: Any, name: str) -> Any:
    """A field of the ``TaskSpec`` struct as decoded (a mapping or a named tuple)."""
    return spec[name] if isinstance(spec, Mapping) else getattr(spec, name)


@dataclass
class TaskContext:
    """What the checks share: the task's events, its state and the registry's outcomes."""

    log: TaskLog
    state: TaskState
    spec: Any
    escrow: int
    outcomes: list[DecodedEvent] = field(default_factory=list)
    _calls: dict[str, tuple[str, dict[str, Any], str]] = field(default_factory=dict)

    def call_of(self, chain: Any, tasks: Any, tx_hash: str) -> tuple[str, dict[str, Any], str]:
        """``(function name, arguments, sender)`` of a TaskManager transaction, decoded once
        per audit (a relayed batch carries every client's submission of the round)."""
        if tx_hash not in self._calls:
            tx = chain.w3.eth.get_transaction(tx_hash)
            call = decode_call(tasks.abi, tx.get("input") or tx.get("data") or b"")
            name, args = call if call is not None else ("", {})
            self._calls[tx_hash] = (name, args, str(tx["from"]))
        return self._calls[tx_hash]


def _status(log: TaskLog) -> TaskStatus:
    if log.events("TaskCancelled"):
        return TaskStatus.CANCELLED
    if log.events("TaskFinished"):
        return TaskStatus.FINISHED
    if log.events("TaskStarted"):
        return TaskStatus.RUNNING
    return TaskStatus.JOINING


def task_context(source: Any, task_id: int) -> TaskContext:
    """Read task ``task_id``'s events from ``source`` (an :class:`~fedchain.audit.source.
    AuditSource`).

    Raises:
        AuditError: the deployment has no such task.
    """
    dep = source.deployment
    log = TaskLog(
        dep.tasks, task_id, from_block=source.from_block,
        addresses=dep.log_addresses(models=True),
    )  # fmt: skip
    log.refresh()
    created = log.last("TaskCreated")
    if created is None:
        raise AuditError(f"task {task_id} does not exist on TaskManager {dep.tasks.address}")
    spec = created.args["spec"]
    clients, miners = log.clients(), log.miners()
    members = {a.lower() for a in clients + miners}
    settled = {
        str(e.args.get("client") or e.args.get("miner")).lower()
        for e in log.events("ClientSettled") + log.events("MinerSettled")
    }
    stakes = {str(e.args["miner"]).lower(): int(e.args["stake"]) for e in log.events("MinerJoined")}
    status = _status(log)
    unsettled = len(members - settled)
    state = TaskState(
        task_id=task_id, status=status, requester=str(created.args["requester"]),
        policy=int(spec_field(spec, "policy")), rounds=int(spec_field(spec, "rounds")),
        round=len(log.events("RoundFinalized")), client_count=len(clients),
        miner_count=len(miners), committee_size=int(spec_field(spec, "committeeSize")),
        attempt=0, max_clients=int(spec_field(spec, "maxClients")),
        byzantine_f=int(spec_field(spec, "byzantineF")),
        join_deadline=int(spec_field(spec, "joinDeadline")), submit_deadline=0,
        verdict_deadline=0, submit_duration=int(spec_field(spec, "submitDuration")),
        verdict_duration=int(spec_field(spec, "verdictDuration")),
        per_round_reward=int(spec_field(spec, "perRoundReward")),
        reward_unit=int(spec_field(spec, "rewardUnit")),
        client_mortgage=int(spec_field(spec, "clientMortgage")),
        min_miner_stake=int(spec_field(spec, "minMinerStake")),
        min_total_stake=int(spec_field(spec, "minTotalStake")),
        total_stake=sum(stakes.get(m.lower(), 0) for m in miners),
        pot=0, unsettled=unsettled,
    )  # fmt: skip
    outcome_logs = read_logs(
        dep.chain, address=dep.registry.address,
        topics=[None, None, "0x" + task_id.to_bytes(32, "big").hex()],
        from_block=source.from_block, to_block=dep.chain.block_number(),
    )  # fmt: skip
    outcomes = [e for e in decode_logs(outcome_logs) if e.name == "TaskOutcomeApplied"]
    return TaskContext(
        log=log, state=state, spec=spec, escrow=int(created.args["escrow"]), outcomes=outcomes
    )
