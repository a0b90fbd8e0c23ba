"""Errors of the participant roles (requester, client, miner).

::

    FedChainError
    └── RoleError                  a role cannot go on (one readable line)
        ├── TaskNotFoundError      no such task on this deployment
        ├── NotParticipantError    the account is not a member of the task
        └── RoleTimeoutError       waited longer than the caller allowed
"""

from __future__ import annotations

from fedchain.errors import FedChainError

__all__ = ["NotParticipantError", "RoleError", "RoleTimeoutError", "TaskNotFoundError"]


class RoleError(FedChainError):
    """A participant role cannot go on."""


class TaskNotFoundError(RoleError, LookupError):
    """The task id is unknown to this deployment."""


class NotParticipantError(RoleError):
    """The account has not joined the task (or has already settled it)."""


class RoleTimeoutError(RoleError, TimeoutError):
    """A role waited longer than its caller allowed."""
