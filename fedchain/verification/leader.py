"""Leader rules (M8) behind a small registry.

- ``"sortition"`` (004, the default): the committee's drawn order decides; the leader is the
  first candidate (``committee(...)[0]`` from :mod:`fedchain.verification.sortition`).
- ``"poq"`` (001 eq. 7, Proof of Training Quality): lowest
  ``MAE^u_j = γ_j · MAE(m_j) + (1/n) Σ_i MAE(m_i)`` with ``γ_j = 1 + |d_j| / Σ_i |d_i|``;
  for classification the error is ``1 − accuracy``. As printed, γ grows with the data size, so
  between two equally accurate models the one trained on *less* data wins; we implement the
  formula as printed (the shared mean term does not change the ranking).
- ``"accuracy"`` (003): highest validation accuracy.
- ``"contribution"`` (002): highest contribution weight ``W_k``.

Every rule breaks ties by the lower index. New rules: ``@register_leader_rule("name")`` on a
function taking :class:`LeaderInputs` and returning the leader's index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from fedchain.registry import Registry
from fedchain.verification.errors import ScoreMatrixError, UnknownRuleError

__all__ = [
    "LeaderInputs",
    "LeaderRule",
    "available_leader_rules",
    "elect_leader",
    "get_leader_rule",
    "poq_scores",
    "register_leader_rule",
]


@dataclass(frozen=True)
class LeaderInputs:
    """What leader rules may look at, one entry per candidate (all optional).

    Attributes:
        n: number of candidates.
        accuracies: validation accuracy of each candidate's model, in [0, 1].
        errors: error of each candidate's model (MAE, or 1 − accuracy).
        data_sizes: training-set size of each candidate (001's |d_j|).
        contributions: contribution weight of each candidate (002's W_k).
    """

    n: int
    accuracies: tuple[float, ...] | None = None
    errors: tuple[float, ...] | None = None
    data_sizes: tuple[float, ...] | None = None
    contributions: tuple[float, ...] | None = None

    def need(self, name: str) -> np.ndarray:
        value = getattr(self, name)
        if value is None:
            raise ScoreMatrixError(f"this leader rule needs {name}=")
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (self.n,) or not np.isfinite(arr).all():
            raise ScoreMatrixError(f"{name} must hold {self.n} finite numbers")
        return arr


LeaderRule = Callable[[LeaderInputs], int]
LEADER_RULES: Registry[LeaderRule] = Registry("leader rule", error=UnknownRuleError, replace=True)


def register_leader_rule(name: str) -> Callable[[LeaderRule], LeaderRule]:
    """Decorator registering a leader rule under ``name`` (re-registering replaces it)."""
    return LEADER_RULES.register(name)


def get_leader_rule(name: str) -> LeaderRule:
    """The leader rule registered under ``name``; :class:`UnknownRuleError` if none."""
    return LEADER_RULES.get(name)


def available_leader_rules() -> list[str]:
    """Names of the registered leader rules, sorted."""
    return LEADER_RULES.names()


def _argbest(values: np.ndarray, *, lowest: bool) -> int:
    key = values if lowest else -values
    return int(np.flatnonzero(key == key.min())[0])  # ties → lower index


def poq_scores(
    *,
    errors: Sequence[float] | np.ndarray | None = None,
    accuracies: Sequence[float] | np.ndarray | None = None,
    data_sizes: Sequence[float] | np.ndarray,
) -> np.ndarray:
    """``MAE^u_j`` of 001 eq. 7 for every candidate (lower is better)."""
    if (errors is None) == (accuracies is None):
        raise ScoreMatrixError("give exactly one of errors= or accuracies=")
    err = (
        np.asarray(errors, dtype=np.float64)
        if errors is not None
        else 1.0 - np.asarray(accuracies, dtype=np.float64)
    )
    d = np.abs(np.asarray(data_sizes, dtype=np.float64))
    if err.ndim != 1 or err.size == 0 or d.shape != err.shape:
        raise ScoreMatrixError("errors/accuracies and data_sizes must be 1-D of one length")
    if not (np.isfinite(err).all() and np.isfinite(d).all()) or d.sum() <= 0:
        raise ScoreMatrixError("errors and data sizes must be finite; data sizes not all zero")
    gamma = 1.0 + d / d.sum()
    return gamma * err + err.mean()


@register_leader_rule("sortition")
def _sortition_leader(inputs: LeaderInputs) -> int:
    if inputs.n < 1:
        raise ScoreMatrixError("no candidates")
    return 0


@register_leader_rule("poq")
def _poq_leader(inputs: LeaderInputs) -> int:
    sizes = inputs.need("data_sizes")
    if inputs.errors is not None:
        scores = poq_scores(errors=inputs.need("errors"), data_sizes=sizes)
    else:
        scores = poq_scores(accuracies=inputs.need("accuracies"), data_sizes=sizes)
    return _argbest(scores, lowest=True)


@register_leader_rule("accuracy")
def _accuracy_leader(inputs: LeaderInputs) -> int:
    return _argbest(inputs.need("accuracies"), lowest=False)


@register_leader_rule("contribution")
def _contribution_leader(inputs: LeaderInputs) -> int:
    return _argbest(inputs.need("contributions"), lowest=False)


def elect_leader(
    rule: str,
    *,
    n: int | None = None,
    accuracies: Sequence[float] | None = None,
    errors: Sequence[float] | None = None,
    data_sizes: Sequence[float] | None = None,
    contributions: Sequence[float] | None = None,
) -> int:
    """Index of the leader among the candidates under the named rule."""
    given = [v for v in (accuracies, errors, data_sizes, contributions) if v is not None]
    if n is None:
        if not given:
            raise ScoreMatrixError("give n= or the candidates' inputs")
        n = len(given[0])

    def tup(v: Sequence[float] | None) -> tuple[float, ...] | None:
        return None if v is None else tuple(float(x) for x in v)

    inputs = LeaderInputs(
        n=n,
        accuracies=tup(accuracies),
        errors=tup(errors),
        data_sizes=tup(data_sizes),
        contributions=tup(contributions),
    )
    return get_leader_rule(rule)(inputs)
