"""A committee member's verdict on one round, from the checked updates: no chain, no store.

Every member runs :func:`judge_round` on the same inputs and, because the verification rules
are exact (Multi-KRUM's selection and the outlier rule do not depend on float summation order),
reaches the same sets on any machine. Only the aggregate is float arithmetic, which is why
members compare the leader's model with their own within a tolerance (:func:`models_agree`).

A verdict separates two things (M11: "penalise only what is shown"):

- **accepted** (the on-chain bitmap: reputation H, reward, no M11 lazy round): every update not
  shown to misbehave;
- **aggregated** (the FedAvg input, written into the global model blob): the accepted updates
  the rule selected. An honest update that Multi-KRUM's ``R − f`` cut leaves out is accepted but
  not aggregated: the cut is a selection, not proof.

Steps:

1. updates that failed their checks (missing blob, wrong digest, malformed, wrong author or
   sample count: ``problem`` set) are rejected;
2. with ``screen_stale``, an update equal to the global model (Δ = 0, a free-rider's resubmission)
   and an exact copy of an earlier submission's tensors are rejected as lazy (M11's q);
3. the task's rule runs on the rest. Under ``"mutual"`` (003), the clients' score rows decide:
   an update whose median score is below the typical update's ÷ ``outlier_factor`` is
   rejected as poor, and the worst ``drop`` never enter the aggregate (:func:`mutual_selection`).
   Multi-KRUM uses the task's Byzantine bound f, less the
   updates already rejected in steps 1-2 (they count against f), and never more than R − 3 (it
   needs R > f + 2); with fewer than three updates left, they are all accepted and aggregated.
   An update whose exact Multi-KRUM score exceeds ``outlier_factor`` × the median score of the
   selected updates is rejected as an outlier (:func:`~fedchain.verification.outliers.
   krum_outliers`); the other updates the cut leaves out stay accepted, not aggregated;
4. the aggregated updates are averaged weighted by sample count (FedAvg) into the next global
   model; with none, the global model stays as it was;
5. reward weights in basis points for the contribution and data-amount policies, over the
   accepted updates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from fedchain.chain.policies import POLICY_NAMES
from fedchain.incentives import data_amount_bps
from fedchain.learning import ModelSpec, apply_update, flatten_state, model_update
from fedchain.verification.contribution import contribution_weights, weights_to_bps
from fedchain.verification.fedavg import fedavg
from fedchain.verification.multikrum import multikrum
from fedchain.verification.outliers import krum_outliers

__all__ = [
    "DEFAULT_OUTLIER_FACTOR",
    "POLICY_NAMES",
    "SUPPORTED_RULES",
    "CheckedUpdate",
    "JudgementSummary",
    "RoundJudgement",
    "judge_round",
    "models_agree",
]

#: Rules a committee member can run from the chain and the store alone ("mutual" also reads
#: the clients' score rows from the ScoreBoard).
SUPPORTED_RULES = ("multikrum", "none", "fedavg", "mutual")
#: Default ratio of a Multi-KRUM score to the selected updates' median that shows an outlier.
DEFAULT_OUTLIER_FACTOR = 3.0
#: Why an accepted update was left out of the aggregate.
NOT_SELECTED = "not selected by Multi-KRUM (kept out of the aggregate; no penalty)"
#: Why mutual validation left an accepted update out of the aggregate.
LOWEST_QUALITY = "lowest quality in mutual validation (kept out of the aggregate; no penalty)"


@dataclass(frozen=True)
class CheckedUpdate:
    """One client's submission after the member checked it.

    Attributes:
        index: the client's index in the task (its bit in the round bitmaps).
        num_samples: its weight in FedAvg and the data-amount policy: the count it submitted on
            chain, at most the count the task fixed at join from its data profiles.
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
        accepted: indices not shown to misbehave (sorted, a subset of ``submitted``): the
            on-chain bitmap that earns reputation and rewards.
        reasons: why each rejected index was rejected, and why each accepted index that is
            not aggregated was left out.
        global_state: the next global model.
        weights_bps: per-client reward weights (empty unless the policy needs them).
        scores: Multi-KRUM scores by client index, when the rule ran.
        aggregated: indices averaged into ``global_state`` (sorted, a subset of ``accepted``);
            None means all of ``accepted``.
    """

    submitted: list[int]
    accepted: list[int]
    reasons: dict[int, str]
    global_state: dict[str, np.ndarray]
    weights_bps: list[int] = field(default_factory=list)
    scores: dict[int, float] = field(default_factory=dict)
    aggregated: list[int] | None = None

    def __post_init__(self) -> None:
        if self.aggregated is None:
            self.aggregated = list(self.accepted)

    @property
    def rejected(self) -> list[int]:
        """Submitted but not accepted (sorted)."""
        chosen = set(self.accepted)
        return [i for i in self.submitted if i not in chosen]

    @property
    def left_out(self) -> list[int]:
        """Accepted but not aggregated (sorted): what the rule's cut alone kept out."""
        chosen = set(self.aggregated or ())
        return [i for i in self.accepted if i not in chosen]

    def notes(self) -> dict[str, object]:
        """What the leader writes into the global model blob (:data:`~fedchain.roles.blobs.
        VERDICT_KEY`): the accepted and aggregated sets and every reason, by client index."""
        return {
            "accepted": list(self.accepted),
            "aggregated": list(self.aggregated or ()),
            "reasons": {str(i): self.reasons[i] for i in sorted(self.reasons)},
        }

    def summary(self) -> JudgementSummary:
        """The verdict without the model (what a long-running miner keeps per round)."""
        return JudgementSummary(
            submitted=list(self.submitted), accepted=list(self.accepted),
            rejected=self.rejected, reasons=dict(self.reasons),
            weights_bps=list(self.weights_bps), aggregated=list(self.aggregated or ()),
        )  # fmt: skip


@dataclass(frozen=True)
class JudgementSummary:
    """A :class:`RoundJudgement` without its model: client index lists and reasons."""

    submitted: list[int]
    accepted: list[int]
    rejected: list[int]
    reasons: dict[int, str]
    weights_bps: list[int]
    aggregated: list[int] = field(default_factory=list)


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
    outlier_factor: float = DEFAULT_OUTLIER_FACTOR,
    score_rows: Mapping[int, Sequence[int]] | None = None,
    drop: int = 1,
) -> RoundJudgement:
    """Judge one round; see the module docstring for the steps.

    ``updates`` are in submission order (the order copies are detected in). The ``"mutual"``
    rule reads ``score_rows`` (validator index → its row of scores in basis points, one per
    client, the rows that count: :func:`fedchain.roles.scoring.counted_rows`) and leaves the
    ``drop`` worst updates out (:func:`mutual_selection`).
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
    credited, chosen = list(candidates), list(candidates)
    if rule == "multikrum" and len(candidates) >= 3:
        f = max(0, min(byzantine_f - len(reasons), len(candidates) - 3))
        deltas = np.stack([d for _, d in candidates])
        result = multikrum(deltas, f=f)
        outliers = set(krum_outliers(deltas, result, factor=outlier_factor))
        selected = set(result.selected)
        for k, (upd, _) in enumerate(candidates):
            scores[upd.index] = float(result.scores[k])
            if k in outliers:
                reasons[upd.index] = (
                    f"outlier: Multi-KRUM score above {outlier_factor:g}x the selected "
                    "updates' median"
                )
            elif k not in selected:
                reasons[upd.index] = NOT_SELECTED
        credited = [c for k, c in enumerate(candidates) if k not in outliers]
        chosen = [c for k, c in enumerate(candidates) if k in selected and k not in outliers]
    elif rule == "mutual" and len(candidates) >= 2 and score_rows:
        indices = [upd.index for upd, _ in candidates]
        quality, poor, left_out = mutual_selection(
            indices, score_rows, factor=outlier_factor, drop=drop
        )
        scores.update(quality)
        for i in poor:
            reasons[i] = (
                f"poor: its median score is below 1/{outlier_factor:g} of the typical update's"
            )
        for i in left_out:
            reasons[i] = LOWEST_QUALITY
        credited = [c for c in candidates if c[0].index not in poor]
        chosen = [c for c in credited if c[0].index not in left_out]
    elif rule not in SUPPORTED_RULES:
        raise ValueError(f"rule {rule!r} is not one a committee member can run")
    credited.sort(key=lambda c: c[0].index)
    chosen.sort(key=lambda c: c[0].index)
    if chosen:
        agg = fedavg([d for _, d in chosen], [upd.num_samples for upd, _ in chosen])
        new_state = apply_update(global_state, agg, spec)
    else:
        new_state = {k: np.array(v, dtype=np.float32) for k, v in global_state.items()}
    weights = _weights(policy, n_clients, credited, new_state, global_state)
    return RoundJudgement(
        submitted=sorted(u.index for u in updates),
        accepted=[upd.index for upd, _ in credited],
        reasons=reasons,
        global_state=new_state,
        weights_bps=weights,
        scores=scores,
        aggregated=[upd.index for upd, _ in chosen],
    )


def mutual_selection(
    candidates: Sequence[int],
    score_rows: Mapping[int, Sequence[int]],
    *,
    factor: float,
    drop: int,
) -> tuple[dict[int, float], list[int], list[int]]:
    """Mutual validation (M13, 003 eq. 6) over the updates left after the screens.

    The quality of candidate i is ``Σ_v S[v][i]`` over the validators v ≠ i that posted a row
    (integer basis points, so every member sums exactly the same); it ranks the candidates. A
    candidate whose *median* score is below the candidates' median of medians ÷ ``factor`` is
    *poor*: shown useless on most validators' data (a median, so that a few dishonest
    validators can neither sink an honest update nor save a poisoned one), and rejected (M11's
    q). The ``drop`` worst candidates by quality (ties: the higher index) never enter the
    aggregate: the poor ones count first, the rest are left out without penalty (a selection,
    as 003 drops the worst each round). Returns (quality by index, poor, left out), both lists
    ascending.
    """
    given = {
        i: [int(row[i]) for v, row in score_rows.items() if v != i and i < len(row)]
        for i in candidates
    }
    quality = {i: float(sum(scores)) for i, scores in given.items()}
    medians = {i: _median(scores) for i, scores in given.items() if scores}
    poor: list[int] = []
    if medians:
        typical = _median(list(medians.values()))
        poor = sorted(i for i, m in medians.items() if m * factor < typical)
    ranking = sorted(candidates, key=lambda i: (quality[i], -i))  # worst first
    room = max(0, min(drop, len(candidates) - 1) - len(poor))  # one update always stays
    left_out = sorted([i for i in ranking if i not in poor][:room])
    return quality, poor, left_out


def _median(values: Sequence[float]) -> float:
    """The median (the mean of the middle two for an even count): exact on integers."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


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
