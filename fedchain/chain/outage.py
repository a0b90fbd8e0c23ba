"""Waiting for a node that went away: one line when it goes, a capped exponential backoff, and a
bound after which the caller gives up with :class:`~fedchain.chain.errors.NodeWaitTimeoutError`.

The roles' run loop (:meth:`fedchain.roles.TaskRole.run`) and the CLI's start-up (connecting to
the node before any role runs) share it, so a participant started while the node is down waits
for it exactly as one whose node goes away later.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fedchain.chain.errors import ChainConnectionError, NodeUnreachableError, NodeWaitTimeoutError

__all__ = [
    "DEFAULT_NODE_TIMEOUT",
    "NODE_RETRY_FIRST",
    "NODE_RETRY_MAX",
    "NodeOutage",
    "format_seconds",
]

#: How long a role waits for an unreachable node by default, in seconds.
DEFAULT_NODE_TIMEOUT = 300.0
#: The first and the longest pause between looks at an unreachable node, in seconds.
NODE_RETRY_FIRST = 1.0
NODE_RETRY_MAX = 10.0


def format_seconds(value: float) -> str:
    """``"42 s"`` or ``"5m 00s"``."""
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest} s"


class NodeOutage:
    """The node has been unreachable since :attr:`since`: the next pause, and whether to give up.

    Creating one says ``node unreachable (URL); retrying ...`` once through ``say``.

    Args:
        url: the node as it may be printed (credentials redacted); the error's own URL wins.
        exc: the failure that started the outage.
        limit: give up after this many seconds (None: never).
        say: where the one line goes.
    """

    def __init__(
        self,
        url: str,
        exc: ChainConnectionError,
        limit: float | None,
        *,
        say: Callable[[str], None],
    ) -> None:
        self.since = time.monotonic()
        self.limit = limit
        self.delay = NODE_RETRY_FIRST
        own = exc.url if isinstance(exc, NodeUnreachableError) and exc.url else None
        self.url = own or url
        bound = f" for up to {format_seconds(limit)}" if limit is not None else ""
        say(
            f"node unreachable ({self.url}); retrying{bound}, at most {NODE_RETRY_MAX:g} s "
            "apart, Ctrl-C to stop"
        )

    def pause(self, exc: ChainConnectionError) -> None:
        """Sleep before the next look; raise :class:`NodeWaitTimeoutError` past the limit."""
        waited = time.monotonic() - self.since
        if self.limit is not None and waited >= self.limit:
            raise NodeWaitTimeoutError(
                f"node unreachable ({self.url}) for {format_seconds(waited)}; gave up (last "
                f"error: {exc}). Start the node again and rerun the same command to carry on"
            ) from None
        delay = self.delay
        if self.limit is not None:
            delay = min(delay, max(self.limit - waited, 0.0))
        time.sleep(delay)
        self.delay = min(self.delay * 2, NODE_RETRY_MAX)
