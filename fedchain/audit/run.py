"""``audit_task``: every check of one task, from its events and its blobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fedchain.audit.findings import AuditReport
from fedchain.audit.money import audit_money, audit_privacy, audit_release
from fedchain.audit.rebuild import task_context
from fedchain.audit.rounds import audit_round, fetch_checked
from fedchain.roles.blobs import read_manifest
from fedchain.roles.errors import RoleError
from fedchain.roles.outcome import task_outcome

__all__ = ["audit_task"]

#: Receives one line of progress per step.
ProgressFn = Callable[[str], None]


def audit_task(source: Any, task_id: int, *, progress: ProgressFn | None = None) -> AuditReport:
    """Audit task ``task_id`` on ``source`` (:class:`~fedchain.audit.source.AuditSource`).

    Raises:
        AuditError: no such task.
        ChainConnectionError: the node stopped answering.
    """
    say = progress or (lambda message: None)
    started = time.perf_counter()
    report = AuditReport(task_id)
    ctx = task_context(source, task_id)
    log, params = ctx.log, source.deployment.params
    threshold, gamma_max = params.get("threshold", 5), params.get("gamma_max", 100)
    outcome = task_outcome(log, ctx.state, threshold=threshold, gamma_max=gamma_max)
    report.task = {**outcome.to_json(), "spec": dict(_as_dict(ctx.spec)), "escrow_wei": ctx.escrow}
    say(f"task {task_id}: {len(outcome.clients)} clients, {len(outcome.miners)} miners, "
        f"{len(outcome.rounds)} finalized round(s), {outcome.status}")  # fmt: skip
    initial_event = log.last("InitialModelRecorded")
    spec = ctx.spec
    digest, codec = bytes(spec["initialModel"]), int(spec["initialCodec"])
    initial = fetch_checked(
        report, source.store, "blob.initial", digest, codec, spec=None, round=None,
        tx_hash=initial_event.tx_hash if initial_event else None,
    )  # fmt: skip
    manifest = None
    if initial is not None:
        try:
            manifest = read_manifest(initial)
        except RoleError as exc:
            report.findings.pop()
            report.add("blob.initial", "mismatch", initial.cid, expected="a task manifest",
                       found=str(exc), detail=str(exc))  # fmt: skip
    if manifest is not None:
        start = fetch_checked(
            report, source.store, "blob.initial", digest, codec, spec=manifest.model, round=0,
            tx_hash=None,
        )  # fmt: skip
        report.findings.pop()  # the same blob, checked once above
        for final in sorted(log.events("RoundFinalized"), key=lambda e: e.sort_key):
            say(f"round {int(final.args['round']) + 1}: re-deriving the verdict")
            start = audit_round(report, ctx, source, manifest, final, start)
        _final_models(report, source, ctx, manifest)
        report.task["privacy_composed"] = audit_privacy(report, ctx, manifest, source.store)
    else:
        say("the initial model is unusable: the rounds cannot be re-derived")
    slash = params.get("slash_bps")
    audit_money(report, ctx, outcome, threshold=threshold, gamma_max=gamma_max, slash_bps=slash)
    report.seconds = time.perf_counter() - started
    return report


def _final_models(report: AuditReport, source: Any, ctx: Any, manifest: Any) -> None:
    log = ctx.log
    finished = log.last("TaskFinished")
    if finished is not None:
        last = log.last("RoundFinalized")
        same = last is not None and bytes(last.args["globalModel"]) == bytes(
            finished.args["finalModel"]
        )
        final = fetch_checked(
            report, source.store, "blob.final", finished.args["finalModel"],
            int(finished.args["codec"]), spec=manifest.model, round=None,
            tx_hash=finished.tx_hash,
        )  # fmt: skip
        if not same:
            report.add("blob.final", "mismatch", "final model", tx_hash=finished.tx_hash,
                       detail="the final model is not the last round's global model")  # fmt: skip
    else:
        final = None
    for e in log.events("PerturbedModelPublished"):
        released = fetch_checked(
            report, source.store, "blob.final", e.args["digest"], int(e.args["codec"]),
            spec=manifest.model, round=None, tx_hash=e.tx_hash,
        )  # fmt: skip
        if final is not None and released is not None:
            audit_release(report, final.state, released.state, manifest.release,
                          tx_hash=e.tx_hash)  # fmt: skip


def _as_dict(spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        return spec
    return dict(spec._asdict()) if hasattr(spec, "_asdict") else dict(spec)
