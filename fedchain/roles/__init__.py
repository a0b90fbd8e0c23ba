"""The participants: requester, client and miner, each a restartable state machine driven by
chain state. This is the only layer where learning, verification, storage and the chain meet.

- :mod:`~fedchain.roles.taskfile` — the TOML task file and the manifest participants read;
- :mod:`~fedchain.roles.requester` — publish a task, start it, wind it up, fetch the model;
- :mod:`~fedchain.roles.client` — register data, join, train with DP, submit, claim;
- :mod:`~fedchain.roles.miner` — stake, verify, judge (Multi-KRUM), lead or attest, replace;
- :mod:`~fedchain.roles.outcome` — a task's rounds, reputation and money from its events.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fedchain.roles.base import Activity, ClaimResult, Participant, TaskRole
    from fedchain.roles.chainview import TaskLog, TaskState, TaskStatus, read_task
    from fedchain.roles.client import Client, LocalData, register_client
    from fedchain.roles.errors import (
        NotParticipantError,
        RoleError,
        RoleTimeoutError,
        TaskNotFoundError,
    )
    from fedchain.roles.judging import CheckedUpdate, RoundJudgement, judge_round, models_agree
    from fedchain.roles.miner import FAULTS, Miner, register_miner
    from fedchain.roles.outcome import RoundRow, TaskOutcome, task_outcome
    from fedchain.roles.requester import Requester, publish_task
    from fedchain.roles.taskfile import TaskFile, TaskFileError, TaskManifest, load_task_file

# Loaded on first use, so ``import fedchain.roles.chainview`` (or the light parts of the CLI)
# does not pull in torch through the client and miner modules.
_LAZY = {
    "(": "fedchain.roles.errors",
    "Activity": "fedchain.roles.base",
    "CheckedUpdate": "fedchain.roles.judging",
    "ClaimResult": "fedchain.roles.base",
    "Client": "fedchain.roles.client",
    "FAULTS": "fedchain.roles.miner",
    "LocalData": "fedchain.roles.client",
    "Miner": "fedchain.roles.miner",
    "Participant": "fedchain.roles.base",
    "Requester": "fedchain.roles.requester",
    "RoundJudgement": "fedchain.roles.judging",
    "RoundRow": "fedchain.roles.outcome",
    "TaskFile": "fedchain.roles.taskfile",
    "TaskFileError": "fedchain.roles.taskfile",
    "TaskLog": "fedchain.roles.chainview",
    "TaskManifest": "fedchain.roles.taskfile",
    "TaskOutcome": "fedchain.roles.outcome",
    "TaskRole": "fedchain.roles.base",
    "TaskState": "fedchain.roles.chainview",
    "TaskStatus": "fedchain.roles.chainview",
    "judge_round": "fedchain.roles.judging",
    "load_task_file": "fedchain.roles.taskfile",
    "models_agree": "fedchain.roles.judging",
    "publish_task": "fedchain.roles.requester",
    "read_task": "fedchain.roles.chainview",
    "register_client": "fedchain.roles.client",
    "register_miner": "fedchain.roles.miner",
    "task_outcome": "fedchain.roles.outcome",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fedchain.roles' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "FAULTS",
    "Activity",
    "CheckedUpdate",
    "ClaimResult",
    "Client",
    "LocalData",
    "Miner",
    "NotParticipantError",
    "Participant",
    "Requester",
    "RoleError",
    "RoleTimeoutError",
    "RoundJudgement",
    "RoundRow",
    "TaskFile",
    "TaskFileError",
    "TaskLog",
    "TaskManifest",
    "TaskNotFoundError",
    "TaskOutcome",
    "TaskRole",
    "TaskState",
    "TaskStatus",
    "judge_round",
    "load_task_file",
    "models_agree",
    "publish_task",
    "read_task",
    "register_client",
    "register_miner",
    "task_outcome",
]
