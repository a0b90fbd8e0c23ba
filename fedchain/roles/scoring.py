"""Mutual supervision's score rows (M13, paper 003): what a validator posts, which rows count.

In a task whose verification rule is ``"mutual"``, every client that submitted an update scores
the other submitted updates on its own data (accuracy in basis points) and posts its row to the
ScoreBoard, one transaction per validator, after the round's submissions closed. The committee
then judges from the rows (:func:`fedchain.roles.judging.mutual_selection`).

Which rows count must be the same for the leader, every member and the auditor:

- the row of a validator whose update is in the verdict's submitted set,
- scoring exactly that set (a row posted before the last submission arrived scores another
  set and is ignored),
- posted before the verdict (in chain order).

A leader posts only once :func:`scoring_done` holds: every submitter posted, or a block is
stamped past the scoring window (:func:`scoring_closes_at`, which the ScoreBoard enforces), so
no row that could count is still to come. A verdict posted earlier is refused by the members
(:func:`premature_verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fedchain.chain.verdicts import indices
from fedchain.learning import ModelSpec, evaluate
from fedchain.roles.chainview import TaskLog, TaskState

__all__ = [
    "MAX_SCORE",
    "ScoreRow",
    "counted_rows",
    "measure_scores",
    "premature_verdict",
    "round_rows",
    "scoring_closes_at",
    "scoring_done",
]

#: A perfect score (accuracy 1.0) in basis points.
MAX_SCORE = 10_000
#: At most this many of its own samples a validator scores each model on (seeded subset).
MAX_VALIDATION_SAMPLES = 512


@dataclass(frozen=True)
class ScoreRow:
    """One validator's posted row (a ``ScoresPosted`` event).

    Attributes:
        validator: the validator's client index.
        submitted: the client indices whose updates the row scores, ascending.
        scores: one score per client of the task (basis points; 0 for itself and the others).
        sort_key: (block, log index) of the event.
        tx_hash: the transaction that posted it.
    """

    validator: int
    submitted: tuple[int, ...]
    scores: tuple[int, ...]
    sort_key: tuple[int, int]
    tx_hash: str


def round_rows(log: TaskLog, round: int) -> list[ScoreRow]:
    """The rows posted in ``round`` (read from ``log``; call its ``refresh`` first), in chain
    order."""
    rows = [
        ScoreRow(
            validator=int(e.args["index"]),
            submitted=tuple(indices(int(e.args["submitted"]))),
            scores=tuple(int(s) for s in e.args["scores"]),
            sort_key=e.sort_key,
            tx_hash=e.tx_hash,
        )
        for e in log.events("ScoresPosted", round=round)
    ]
    return sorted(rows, key=lambda row: row.sort_key)


def counted_rows(
    rows: Sequence[ScoreRow],
    submitted: Sequence[int],
    *,
    before: tuple[int, int] | None = None,
) -> dict[int, tuple[int, ...]]:
    """The rows that count for a verdict over ``submitted`` (see the module docstring):
    validator index → its scores."""
    expected = tuple(sorted(submitted))
    chosen = set(expected)
    counted: dict[int, tuple[int, ...]] = {}
    for row in rows:
        if before is not None and row.sort_key >= before:
            continue
        if row.validator in chosen and row.submitted == expected and row.validator not in counted:
            counted[row.validator] = row.scores
    return counted


def scoring_closes_at(state: TaskState) -> int:
    """When the ScoreBoard stops taking rows of the current round (its ``scoringClosesAt``)."""
    return state.submit_deadline + state.verdict_duration // 2


def scoring_done(
    rows: Sequence[ScoreRow], submitted: Sequence[int], *, block_time: int, closes_at: int
) -> bool:
    """Whether no row that could count is still to come: every submitter posted one, or a
    block is stamped past the window (read that block's time *before* the log)."""
    posted = {row.validator for row in rows}
    return set(submitted) <= posted or block_time > closes_at


def premature_verdict(
    rows: Sequence[ScoreRow],
    submitted: Sequence[int],
    *,
    verdict_key: tuple[int, int],
    verdict_time: int,
    closes_at: int,
) -> bool:
    """Whether a verdict was posted while a row that would count could still come: some
    submitter had not posted and the window was open."""
    before = [row for row in rows if row.sort_key < verdict_key]
    return not scoring_done(before, submitted, block_time=verdict_time, closes_at=closes_at)


def measure_scores(
    spec: ModelSpec,
    models: Mapping[int, Mapping[str, np.ndarray] | None],
    x: np.ndarray,
    y: np.ndarray,
    *,
    client_count: int,
    seed: int,
) -> np.ndarray:
    """A validator's row: each peer model's accuracy on (a seeded subset of at most
    :data:`MAX_VALIDATION_SAMPLES` of) the validator's own data, in basis points.

    ``models`` maps the submitted peers' indices to their models (None: unusable, scored 0);
    every other position, the validator's own included, is 0.
    """
    count = len(y)
    if count > MAX_VALIDATION_SAMPLES:
        pick = np.sort(np.random.default_rng(seed).choice(count, MAX_VALIDATION_SAMPLES, False))
        x, y = x[pick], y[pick]
    row = np.zeros(client_count, dtype=np.int64)
    for index, state in models.items():
        if state is not None and 0 <= index < client_count:
            row[index] = round(evaluate(spec, state, x, y) * MAX_SCORE)
    return row
