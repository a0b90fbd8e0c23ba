"""Mutual supervision's score rows audited (M13): the rows a verdict rests on, whether the
leader waited for them, and which validators scored far from the others.

The rows are public (``ScoresPosted`` on the ScoreBoard) but the data a validator scored on is
not, so the auditor cannot re-measure a score. It can compare each validator's row with the
median of all validators' scores of the same models: an honest validator's data is drawn
from the same task, so its accuracies stay near the others'; a row far from them on average
(more than :data:`DISHONEST_DEVIATION_BPS`) is flagged as dishonest. The flag is evidence for
the reader, not a mismatch of the chain's record (the verdict itself sums every row, as 003
does, and is re-run exactly by ``judgement.accepted``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from fedchain.audit.findings import AuditReport
from fedchain.chain.events import DecodedEvent
from fedchain.roles.chainview import TaskLog
from fedchain.roles.scoring import counted_rows, premature_verdict, round_rows

__all__ = ["DISHONEST_DEVIATION_BPS", "audit_scores", "score_deviations"]

#: A row whose mean distance to the others' median exceeds this (20 accuracy points) is flagged.
DISHONEST_DEVIATION_BPS = 2_000


def score_deviations(rows: Mapping[int, tuple[int, ...]]) -> dict[int, float]:
    """Per validator: the mean |its score − the median of every validator's score of the same
    model| over the models at least three validators scored (basis points). The median
    includes the validator itself, so that one dishonest row among three cannot drag the
    honest rows' reference with it."""
    out: dict[int, float] = {}
    for v, row in rows.items():
        gaps = []
        for i, score in enumerate(row):
            if i == v:
                continue
            scored = [r[i] for u, r in rows.items() if u != i and i < len(r)]
            if len(scored) >= 3:
                gaps.append(abs(score - statistics.median(scored)))
        if gaps:
            out[v] = sum(gaps) / len(gaps)
    return out


def audit_scores(
    report: AuditReport,
    log: TaskLog,
    chain: Any,
    *,
    round: int,
    posted: DecodedEvent,
    submitted: list[int],
    closes_at: int,
    clients: list[str],
) -> tuple[dict[int, tuple[int, ...]], dict[str, Any]]:
    """Check round ``round``'s rows against its finalized verdict ``posted``; returns the rows
    that count (for the re-run judgement) and what the round's report row shows of them."""
    rows = round_rows(log, round)
    counted = counted_rows(rows, submitted, before=posted.sort_key)
    block: Any = chain.w3.eth.get_block(posted.block_number)
    early = premature_verdict(
        rows, submitted, verdict_key=posted.sort_key, verdict_time=int(block["timestamp"]),
        closes_at=closes_at,
    )  # fmt: skip
    report.add(
        "mutual.timing", "mismatch" if early else "ok", f"round {round}", round=round,
        tx_hash=posted.tx_hash, expected=f"every submitter's row, or a block after {closes_at}",
        found=f"{len(counted)} of {len(submitted)} rows, block time {int(block['timestamp'])}",
        detail="the verdict came while rows could still arrive" if early else "",
    )  # fmt: skip
    deviations = score_deviations(counted)
    flagged = sorted(v for v, gap in deviations.items() if gap > DISHONEST_DEVIATION_BPS)
    tx_of = {row.validator: row.tx_hash for row in rows if row.validator in counted}
    for v in sorted(counted):
        gap = deviations.get(v)
        name = clients[v] if v < len(clients) else f"client {v}"
        report.add(
            "mutual.scores", "ok", name, round=round, tx_hash=tx_of.get(v),
            expected=f"within {DISHONEST_DEVIATION_BPS / 100:.0f} points of the others' median",
            found=None if gap is None else round_points(gap),
            detail=f"flagged: scores {gap / 100:.1f} points from the other validators' median"
            if v in flagged and gap is not None else "",
        )  # fmt: skip
    shown = {
        "score_rows": {str(v): list(row) for v, row in sorted(counted.items())},
        "flagged_scorers": [clients[v] if v < len(clients) else v for v in flagged],
    }
    return counted, shown


def round_points(bps: float) -> str:
    """Basis points as accuracy points with one decimal (``"12.3 points"``)."""
    return f"{bps / 100:.1f} points"
