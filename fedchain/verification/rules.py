"""Verification rules behind a registry, so a task can name its rule.

A rule takes the round's updates (and whatever else it needs, by keyword) and returns a
:class:`Verdict`: which updates are accepted. Registered rules:

- ``"multikrum"`` — :func:`fedchain.verification.multikrum.multikrum` (needs ``f``);
- ``"none"`` (alias ``"fedavg"``) — accept every update (plain FedAvg);
- ``"mutual_validation"`` — drop the ``drop`` clients whose models the others scored worst
  (needs ``score_matrix``; see :mod:`fedchain.verification.mutual`).

Add one with ``@register_rule("name")``. :func:`aggregate_accepted` averages the accepted
updates weighted by sample count (FedAvg, 003 eq. 5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedchain.registry import Registry
from fedchain.verification._arrays import UpdateRows, to_numpy
from fedchain.verification.errors import UnknownRuleError, VerificationError
from fedchain.verification.fedavg import fedavg
from fedchain.verification.multikrum import multikrum
from fedchain.verification.mutual import mutual_validation

__all__ = [
    "Rule",
    "Verdict",
    "aggregate_accepted",
    "available_rules",
    "get_rule",
    "register_rule",
    "verify",
]


@dataclass(frozen=True)
class Verdict:
    """A rule's outcome for one round.

    Attributes:
        rule: the rule's registered name.
        accepted: accepted update indices, ascending.
        rejected: the others, ascending.
        scores: per-update scores when the rule has them (Multi-KRUM scores, mutual-validation
            quality), else None.
    """

    rule: str
    accepted: list[int]
    rejected: list[int]
    scores: np.ndarray | None = None

    def accepted_mask(self, n: int | None = None) -> list[bool]:
        """``mask[i]`` is true when update i is accepted."""
        total = len(self.accepted) + len(self.rejected) if n is None else n
        chosen = set(self.accepted)
        return [i in chosen for i in range(total)]

    def bitmap(self) -> int:
        """The accepted set as an integer bitmap (bit i set ⇔ update i accepted)."""
        return sum(1 << i for i in self.accepted)


Rule = Callable[..., Verdict]
VERIFICATION_RULES: Registry[Rule] = Registry(
    "verification rule", error=UnknownRuleError, replace=True
)


def register_rule(name: str) -> Callable[[Rule], Rule]:
    """Decorator registering a verification rule under ``name``."""
    return VERIFICATION_RULES.register(name)


def get_rule(name: str) -> Rule:
    """The rule registered under ``name``; :class:`UnknownRuleError` if none."""
    return VERIFICATION_RULES.get(name)


def available_rules() -> list[str]:
    """Names of the registered verification rules, sorted."""
    return VERIFICATION_RULES.names()


def verify(name: str, updates: Any, **options: Any) -> Verdict:
    """Run the rule registered under ``name`` on ``updates`` with its keyword options."""
    return get_rule(name)(updates, **options)


@register_rule("multikrum")
def _multikrum_rule(updates: Any, *, f: int, m: int | None = None, **_: Any) -> Verdict:
    res = multikrum(updates, f=f, m=m)
    return Verdict("multikrum", res.selected, res.rejected, res.scores)


def _accept_all(name: str, updates: Any) -> Verdict:
    n = UpdateRows(updates).R
    return Verdict(name, list(range(n)), [])


@register_rule("none")
def _none_rule(updates: Any, **_: Any) -> Verdict:
    return _accept_all("none", updates)


@register_rule("fedavg")
def _fedavg_rule(updates: Any, **_: Any) -> Verdict:
    return _accept_all("fedavg", updates)


@register_rule("mutual_validation")
def _mutual_rule(
    updates: Any,
    *,
    score_matrix: Any,
    higher_is_better: bool = True,
    drop: int = 1,
    **_: Any,
) -> Verdict:
    res = mutual_validation(score_matrix, higher_is_better=higher_is_better, drop=drop)
    n = len(res.quality)
    if updates is not None and (count := UpdateRows(updates).R) != n:
        raise VerificationError(f"score matrix is {n}×{n} but there are {count} updates")
    return Verdict("mutual_validation", res.kept, res.dropped, res.quality)


def aggregate_accepted(
    verdict: Verdict, updates: Any, num_samples: Sequence[float] | np.ndarray
) -> np.ndarray:
    """FedAvg (weighted by ``num_samples``) of the accepted updates only."""
    if not verdict.accepted:
        raise VerificationError("no accepted update to aggregate")
    rows = UpdateRows(updates)
    if len(num_samples) != rows.R:
        raise VerificationError(f"{len(num_samples)} sample counts for {rows.R} updates")
    picked = [rows.row(i) for i in verdict.accepted]
    shape = to_numpy(updates[0]).shape
    avg = fedavg(picked, [num_samples[i] for i in verdict.accepted])
    return avg.reshape(shape)
