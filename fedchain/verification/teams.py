"""Team formation (M12, 002 Algorithm 1).

A team sponsor recruits members: each candidate reports a work preference ``W_p`` and the
sponsor rates its ability ``A_b``; the integrated value is ``IV = 0.5 · W_p + 0.5 · A_b``
(Algorithm 1, step 5) and the first N candidates by IV are taken (step 6; ties: earlier
registration first). A team answers a task only if *every* member meets its credit requirement
(002 §4.1: "the credit rating of each node in the team meets the requirements").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fedchain.verification.errors import VerificationError

__all__ = ["TeamSelection", "integrated_value", "select_team", "team_eligible"]


def integrated_value(preference: float | np.ndarray, ability: float | np.ndarray) -> np.ndarray:
    """``IV = 0.5 · W_p + 0.5 · A_b`` (element-wise)."""
    p = np.asarray(preference, dtype=np.float64)
    a = np.asarray(ability, dtype=np.float64)
    if p.shape != a.shape or not (np.isfinite(p).all() and np.isfinite(a).all()):
        raise VerificationError("preference and ability must be finite and of one shape")
    return 0.5 * p + 0.5 * a


@dataclass(frozen=True)
class TeamSelection:
    """The recruited members (best IV first) and every candidate's IV (input order)."""

    members: list[str]
    values: list[float]


def select_team(
    candidates: Sequence[str],
    preferences: Sequence[float],
    abilities: Sequence[float],
    *,
    size: int,
) -> TeamSelection:
    """Take the ``size`` candidates with the highest IV (ties: earlier candidate first)."""
    names = list(candidates)
    if len(set(names)) != len(names):
        raise VerificationError("candidate names must be unique")
    if len(preferences) != len(names) or len(abilities) != len(names):
        raise VerificationError("one preference and one ability per candidate")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= len(names):
        raise VerificationError(f"team size must be in 1..{len(names)}, got {size!r}")
    iv = integrated_value(np.asarray(preferences, float), np.asarray(abilities, float))
    order = sorted(range(len(names)), key=lambda i: (-iv[i], i))
    return TeamSelection(members=[names[i] for i in order[:size]], values=[float(v) for v in iv])


def team_eligible(credits: Sequence[float], *, requirement: float | Sequence[float]) -> bool:
    """True when every member's credit meets its requirement (a number, or one per member)."""
    c = np.asarray(credits, dtype=np.float64)
    req = np.broadcast_to(np.asarray(requirement, dtype=np.float64), c.shape)
    if c.ndim != 1 or c.size == 0:
        raise VerificationError("credits must be a non-empty 1-D sequence")
    return bool((c >= req).all())
