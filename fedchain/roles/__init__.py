"""The participants: requester, client and miner, each a restartable state machine driven by
chain state. This is the only layer where learning, verification, storage and the chain meet.

- :mod:`~fedchain.roles.taskfile` — the TOML task file and the manifest participants read;
- :mod:`~fedchain.roles.requester` — publish a task, start it, wind it up, fetch the model;
- :mod:`~fedchain.roles.client` — register data, join, train with DP, submit, claim;
- :mod:`~fedchain.roles.miner` — stake, verify, judge (Multi-KRUM), lead or attest, replace;
- :mod:`~fedchain.roles.outcome` — a task's rounds, reputation and money from its events.
"""

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
