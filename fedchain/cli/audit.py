"""``fedchain audit TASK_ID``: re-derive every verdict, payout and blob of a task.

No key is needed. The task is read from a node (``--rpc-url`` and ``--deployment``) or from a
demo's run directory (``--run-dir``), its blobs from ``--store`` (a directory, ``local:DIR``,
``kubo:URL`` or an IPFS RPC URL; a run directory's own ``store/`` by default). It prints one
row per check, or with ``--json`` one JSON object last; ``--html FILE`` writes a self-contained
report. Exit codes: 0 every check holds, 4 a mismatch was found, 5 something could not be
checked (a blob unavailable), 1 bad input (no such task, no such file), 3 the node went away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedchain.cli.common import NODE_UNREACHABLE_EXIT, Output
from fedchain.cli.sources import DeploymentOption, RpcUrlOption, RunDirOption, StoreOption

__all__ = ["audit_command", "register"]


def audit_command(
    task_id: Annotated[int, typer.Argument(help="The task to audit.", min=0)],
    rpc_url: RpcUrlOption = None,
    deployment: DeploymentOption = None,
    run_dir: RunDirOption = None,
    store: StoreOption = None,
    html: Annotated[
        Path | None,
        typer.Option(help="Also write a self-contained HTML report here.", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object last.")] = False,
) -> None:
    """Re-derive every verdict, payout and blob of a task from the chain and the store."""
    from fedchain.audit import audit_task, open_source
    from fedchain.audit.render import check_rows, write_html
    from fedchain.chain.errors import ChainConnectionError

    out = Output(as_json)
    try:
        with open_source(
            rpc_url=rpc_url, deployment=deployment, run_dir=run_dir, store=store
        ) as source:
            report = audit_task(source, task_id, progress=lambda m: out.err.print(m, markup=False))
            where = source.where
    except ChainConnectionError as exc:
        out.err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(NODE_UNREACHABLE_EXIT) from None
    if html is not None:
        write_html(report, html, where=where)
    from rich.table import Table

    table = Table(title=f"audit of task {task_id} ({where})")
    for column in ("check", "status", "items", "note"):
        table.add_column(column, overflow="fold")
    for name, status, counts, note in check_rows(report):
        style = {"ok": "green", "MISMATCH": "bold red", "unchecked": "yellow"}[status]
        table.add_row(name, f"[{style}]{status}[/]", counts, note)
    out.out.print(table)
    for f in report.mismatches + report.unchecked:
        where_round = f"round {f.round + 1} " if f.round is not None else ""
        subject = f" {f.label}" if f.label else ""
        out.line(f"{f.status}: {where_round}{f.check}{subject}: {f.detail}"
                 + (f" (tx {f.tx_hash})" if f.tx_hash else ""))  # fmt: skip
    verdict = {0: "every check holds", 4: "MISMATCH FOUND", 5: "some checks could not be made"}
    code = report.exit_code()
    out.line(f"{len(report.findings)} findings in {report.seconds:.2f} s: {verdict[code]}"
             + (f"; HTML report {html}" if html is not None else ""))  # fmt: skip
    out.result(report.to_json())
    raise typer.Exit(code)


def register(root: typer.Typer) -> None:
    """Attach the top-level ``audit`` command to the root app."""
    root.command("audit")(audit_command)
