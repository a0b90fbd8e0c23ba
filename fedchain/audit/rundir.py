"""A run directory that audits itself: what ``fedchain demo`` writes beside its results so
that ``fedchain audit --run-dir`` and ``fedchain explorer --run-dir`` can read the task later.

- ``deployment.json``: the deployment (with the node's URL when the node outlives the run);
- ``chain.json``: the chain recorded (:mod:`fedchain.audit.recording`) when it does not
  (the embedded chain, an Anvil the run started);
- ``audit.json`` and ``audit.html``: the audit made at the end of the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fedchain.audit.findings import AuditReport
from fedchain.audit.recording import RECORDING_FILE, record_chain
from fedchain.audit.render import write_html
from fedchain.audit.run import audit_task
from fedchain.audit.source import DEPLOYMENT_FILE, AuditSource
from fedchain.chain.connection import Chain
from fedchain.chain.deploy import Deployment
from fedchain.fsutil import atomic_output
from fedchain.storage import open_store

__all__ = ["audit_run_dir", "audit_summary"]


def audit_run_dir(
    chain: Chain,
    deployment: Deployment,
    task_id: int,
    run_dir: str | os.PathLike[str],
    *,
    store: str,
) -> AuditReport:
    """Write the deployment (and the recorded chain when the node ends with the run), audit
    ``task_id`` and write ``audit.json`` and ``audit.html`` into ``run_dir``."""
    directory = Path(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    lasting = chain.kind == "rpc"
    document: dict[str, Any] = {**deployment.to_json(), "rpc_url": chain.url if lasting else None}
    _write(directory / DEPLOYMENT_FILE, json.dumps(document, indent=2) + "\n")
    if not lasting:
        record_chain(chain.w3, directory / RECORDING_FILE, from_block=deployment.deployed_block)
    blobs = open_store(store)
    source = AuditSource(
        chain=chain, deployment=deployment, store=blobs, from_block=deployment.deployed_block,
        where=chain.url or f"the {chain.kind} chain",
    )  # fmt: skip
    try:
        report = audit_task(source, task_id)
    finally:
        blobs.close()
    _write(directory / "audit.json", json.dumps(report.to_json(), indent=2) + "\n")
    write_html(report, directory / "audit.html", where=source.where)
    return report


def audit_summary(report: AuditReport) -> dict[str, Any]:
    """What a run's JSON carries of its audit: ``ok``, ``checks`` (items checked),
    ``mismatches``, ``unchecked`` and the ``exit_code`` ``fedchain audit`` would give; for a
    mutual-supervision task also ``score_rows`` (rows the verdicts rest on) and
    ``flagged_scorers`` (validators flagged dishonest in any round)."""
    summary: dict[str, Any] = {
        "ok": report.ok, "checks": len(report.findings), "mismatches": len(report.mismatches),
        "unchecked": len(report.unchecked), "exit_code": report.exit_code(),
        "check_names": len(report.check_table()),
    }  # fmt: skip
    mutual = [row for row in report.rounds if "score_rows" in row]
    if mutual:
        summary["score_rows"] = sum(len(row["score_rows"]) for row in mutual)
        summary["flagged_scorers"] = sorted(
            {str(who) for row in mutual for who in row.get("flagged_scorers", [])}
        )
    return summary


def _write(path: Path, text: str) -> None:
    with atomic_output(path, mode=0o666) as fh:
        fh.write(text.encode("utf-8"))
