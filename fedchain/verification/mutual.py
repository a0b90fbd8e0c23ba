"""Mutual validation (M13, paper 003 §4.1 eq. 6).

Every client validates the other clients' models on its own data; the score matrix is recorded
on chain (non-repudiation). The quality of client i is the sum of the scores the *others* gave
it, ``v^i = Σ_{v ≠ i} S[v, i]`` (accuracy for classification — higher is better; mean absolute
error for regression — lower is better), and the worst client is dropped each round.

Scores recorded on chain are integers (e.g. accuracy in basis points, :func:`quantize_scores`);
running the rule on those integers makes every verifier's verdict identical. Ties among the
worst are broken against the *higher* index (the lower index is kept), matching the lower-index
preference of Multi-KRUM.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fedchain.verification.errors import ScoreMatrixError

__all__ = ["MutualValidationResult", "mutual_validation", "quantize_scores", "score_matrix"]


@dataclass(frozen=True)
class MutualValidationResult:
    """Outcome of :func:`mutual_validation`.

    Attributes:
        quality: per-client quality ``Σ_{v≠i} S[v, i]`` (float64).
        ranking: client indices from best to worst (ties: lower index first).
        dropped: the worst ``drop`` clients, ascending.
        kept: the others, ascending.
    """

    quality: np.ndarray
    ranking: list[int]
    dropped: list[int]
    kept: list[int]


def score_matrix(n: int, evaluate: Callable[[int, int], float]) -> np.ndarray:
    """Build ``S[v, i] = evaluate(v, i)`` for ``v ≠ i`` (diagonal NaN): validator v, model i."""
    if n < 2:
        raise ScoreMatrixError(f"mutual validation needs at least 2 clients, got {n}")
    s = np.full((n, n), np.nan)
    for v in range(n):
        for i in range(n):
            if v != i:
                s[v, i] = float(evaluate(v, i))
    return s


def quantize_scores(scores: Any, *, scale: int = 10_000) -> np.ndarray:
    """Scores in [0, 1] (e.g. accuracies) → integers ``round(score · scale)`` for the chain.

    The diagonal (a client does not validate itself) becomes 0.
    """
    s = np.array(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ScoreMatrixError(f"score matrix must be square, got shape {s.shape}")
    np.fill_diagonal(s, 0.0)
    if not np.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        raise ScoreMatrixError("scores to quantize must lie in [0, 1]")
    return np.rint(s * scale).astype(np.int64)


def mutual_validation(
    scores: Any = None,
    *,
    evaluate: Callable[[int, int], float] | None = None,
    n: int | None = None,
    higher_is_better: bool = True,
    drop: int = 1,
) -> MutualValidationResult:
    """Rank clients by the scores the others gave them and drop the worst ``drop``.

    Args:
        scores: ``(n, n)`` matrix, ``scores[v, i]`` = score validator v gave client i's model;
            the diagonal is ignored. Alternatively pass ``evaluate`` and ``n``.
        evaluate: ``evaluate(v, i) -> float`` — validator v scores model i on v's data.
        n: number of clients (with ``evaluate``).
        higher_is_better: True for accuracies, False for errors such as MAE.
        drop: how many of the worst clients to drop (0 ≤ drop < n).
    """
    if scores is None:
        if evaluate is None or n is None:
            raise ScoreMatrixError("give a score matrix, or evaluate= and n=")
        s = score_matrix(n, evaluate)
    else:
        s = np.array(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 2:
        raise ScoreMatrixError(f"score matrix must be square with n >= 2, got shape {s.shape}")
    count = s.shape[0]
    off = ~np.eye(count, dtype=bool)
    if not np.isfinite(s[off]).all():
        raise ScoreMatrixError("every off-diagonal score must be a finite number")
    if isinstance(drop, bool) or not isinstance(drop, int) or not 0 <= drop < count:
        raise ScoreMatrixError(f"drop must be an integer in 0..{count - 1}, got {drop!r}")
    quality = np.where(off, s, 0.0).sum(axis=0)
    sign = -1.0 if higher_is_better else 1.0
    ranking = sorted(range(count), key=lambda i: (sign * quality[i], i))
    dropped = sorted(ranking[count - drop :]) if drop else []
    kept = sorted(ranking[: count - drop])
    return MutualValidationResult(quality=quality, ranking=ranking, dropped=dropped, kept=kept)
