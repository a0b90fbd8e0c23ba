"""A committee member's verdict on one round, from the checked updates: no chain, no store.

Every member runs :func:`judge_round` on the same inputs and, because the verification rules
are exact (Multi-KRUM's selection does not depend on float summation order), reaches the same
accepted set on any machine. Only the aggregate is float arithmetic, which is why members
compare the leader's model with their own within a tolerance (:func:`models_agree`).

Steps:

1. updates that failed their checks (missing blob, wrong digest, malformed, wrong author or
   sample count: ``problem`` set) are rejected;
2. with ``screen_stale``, an update equal to the global model (Δ = 0, a free-rider's resubmission)
   and an exact copy of an earlier submission's tensors are rejected as lazy (M11's q);
3. the task's rule runs on the rest. Multi-KRUM uses the task's Byzantine bound f, less the
   updates already rejected in steps 1-2 (they count against f), and never more than R − 3 (it
   needs R > f + 2); with fewer than three updates left, they are all accepted;
4. the accepted updates are averaged weighted by sample count (FedAvg) into the next global
   model; with none accepted, the global model stays as it was;
5. reward weights in basis points for the contribution and data-amount policies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fedchain.chain.policies import POLICY_NAMES
from fedchain.incentives import data_amount_bps
from fedchain.learning import ModelSpec, apply_update, flatten_state, model_update
from fedchain.verification import multikrum
from fedchain.verification.contribution import contribution_weights, weights_to_bps
from fedchain.verification.fedavg import fedavg

__all__ = [
    "POLICY_NAMES",
    "SUPPORTED_RULES",
    "CheckedUpdate",
    "JudgementSummary",
    "RoundJudgement",
    "judge_round",
    "models_agree",
]

#: Rules a committee member can run from the chain and the store alone.
SUPPORTED_RULES = ("multikrum", "none", "fedavg")


@dataclass(frozen=True)
class CheckedUpdate:
    """One client's submission after the member checked it.

    Attributes:
        index: the client's index in the task (its bit in the round bitmaps).
        num_samples: the sample count it submitted on chain (FedAvg's weight).
        state: the model it uploaded, or None when a check failed.
        problem: why it failed (None when it passed).
    """

    index: int
    num_samples: int
    state: Mapping[str, np.ndarray] | None
    problem: str | None = None


@dataclass
class RoundJudgement:
    """A member's verdict on one round.

    Attributes:
        submitted: indices of the clients that submitted (sorted).
        accepted: indices accepted (sorted, a subset of ``submitted``).
        reasons: why each rejected index was rejected.
        global_state: the next global model.
        weights_bps: per-client reward weights (empty unless the policy needs them).
        scores: Multi-KRUM scores by client index, when the rule ran.
    """

    submitted: list[int]
    accepted: list[int]
    reasons: dict[int, str]
    global_state: dict[str, np.ndarray]
    weights_bps: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)

    @property
    def rejected(self) -> list[int]:
        """Submitted but not accepted (sorted)."""
        chosen = set(self.accepted)
        return [i for i in self.submitted if i not in chosen]

    def summary(self) -> JudgementSummary:
        """The verdict without the model (what a long-running miner keeps per round)."""
        return JudgementSummary(
            submitted=list(self.submitted), accepted=list(self.accepted),
            rejected=self.rejected, reasons=dict(self.reasons),
            weights_bps=list(self.weights_bps),
        )  # fmt: skip


@dataclass(frozen=True)
class JudgementSummary:
    """A :class:`RoundJudgement` without its model: client index lists and reasons."""

    submitted: list[int]
    accepted: list[int]
    rejected: list[int]
    reasons: dict[int, str]
    weights_bps: list[int]


def _screen(
    candidates: list[tuple[CheckedUpdate, np.ndarray]], reasons: dict[int, str]
) -> list[tuple[CheckedUpdate, np.ndarray]]:
    kept: list[tuple[CheckedUpdate, np.ndarray]] = []
    for upd, delta in candidates:
        if not delta.any():
            reasons[upd.index] = "stale: equal to the global model"
            continue
        copied = next((k for k, d in kept if np.array_equal(d, delta)), None)
        if copied is not None:
            reasons[upd.index] = f"copy of client {copied.index}'s update"
            continue
        kept.append((upd, delta))
    return kept


def judge_round(
    global_state: Mapping[str, np.ndarray],
    updates: Sequence[CheckedUpdate],
    *,
    spec: ModelSpec,
    n_clients: int,
    byzantine_f: int,
    rule: str = "multikrum",
    screen_stale: bool = True,
    policy: str = "reputation",
) -> RoundJudgement:
    """Judge one round; see the module docstring for the steps.

    ``updates`` are in submission order (the order copies are detected in).
    """
    reasons: dict[int, str] = {}
    candidates: list[tuple[CheckedUpdate, np.ndarray]] = []
    for upd in updates:
        if upd.state is None:
            reasons[upd.index] = upd.problem or "failed its checks"
        else:
            candidates.append((upd, model_update(upd.state, global_state)))
    if screen_stale:
        candidates = _screen(candidates, reasons)
    scores: dict[int, float] = {}
    chosen = candidates
    if rule == "multikrum" and len(candidates) >= 3:
        f = max(0, min(byzantine_f - len(reasons), len(candidates) - 3))
        result = multikrum(np.stack([d for _, d in candidates]), f=f)
        selected = set(result.selected)
        chosen = [c for k, c in enumerate(candidates) if k in selected]
        for k, (upd, _) in enumerate(candidates):
            scores[upd.index] = float(result.scores[k])
            if k not in selected:
                reasons[upd.index] = "rejected by Multi-KRUM"
    elif rule not in SUPPORTED_RULES:
        raise ValueError(f"rule {rule!r} is not one a committee member can run")
    chosen.sort(key=lambda c: c[0].index)
    accepted = [upd.index for upd, _ in chosen]
    if chosen:
        agg = fedavg([d for _, d in chosen], [upd.num_samples for upd, _ in chosen])
        new_state = apply_update(global_state, agg, spec)
    else:
        new_state = {k: np.array(v, dtype=np.float32) for k, v in global_state.items()}
    weights = _weights(policy, n_clients, chosen, new_state, global_state)
    return RoundJudgement(
        submitted=sorted(u.index for u in updates),
        accepted=accepted,
        reasons=reasons,
        global_state=new_state,
        weights_bps=weights,
        scores=scores,
    )


def _weights(
    policy: str,
    n_clients: int,
    chosen: list[tuple[CheckedUpdate, np.ndarray]],
    new_state: Mapping[str, np.ndarray],
    global_state: Mapping[str, np.ndarray],
) -> list[int]:
    if policy not in ("contribution", "data_amount"):
        return []
    weights = [0] * n_clients
    if not chosen:
        return weights
    if policy == "data_amount":
        mask = [False] * n_clients
        samples = [0] * n_clients
        for upd, _ in chosen:
            mask[upd.index], samples[upd.index] = True, upd.num_samples
        return data_amount_bps(samples, accepted=mask)
    global_update = flatten_state(new_state) - flatten_state(global_state)
    bps = weights_to_bps(contribution_weights(np.stack([d for _, d in chosen]), global_update))
    for (upd, _), w in zip(chosen, bps, strict=True):
        weights[upd.index] = w
    return weights


def models_agree(
    ours: Mapping[str, np.ndarray], theirs: Mapping[str, np.ndarray], *, tolerance: float
) -> tuple[bool, float]:
    """Whether two models have the same tensors within ``tolerance`` (max absolute difference).

    Returns ``(agree, max_abs_difference)``; different names or shapes never agree.
    """
    if set(ours) != set(theirs):
        return False, float("inf")
    worst = 0.0
    for name, a in ours.items():
        b = theirs[name]
        if np.shape(a) != np.shape(b):
            return False, float("inf")
        if np.size(a):
            diff = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
            if not np.isfinite(diff):
                return False, float("inf")
            worst = max(worst, diff)
    return worst <= tolerance, worst
