"""An :class:`~fedchain.audit.findings.AuditReport` for people: a terminal table and one
self-contained HTML page (no script, no remote resource: it opens from a disk or a mail)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from fedchain.audit.findings import CHECKS, AuditReport
from fedchain.fsutil import atomic_output

__all__ = ["check_rows", "render_html", "write_html"]

_MARK = {"ok": "ok", "mismatch": "MISMATCH", "unchecked": "unchecked"}


def check_rows(report: AuditReport) -> list[tuple[str, str, str, str]]:
    """One row per check made: (check, status, counts, first problem or description)."""
    rows = []
    for name, entry in report.check_table().items():
        counts = f"{entry['ok']} ok"
        if entry["mismatch"]:
            counts += f", {entry['mismatch']} mismatch"
        if entry["unchecked"]:
            counts += f", {entry['unchecked']} unchecked"
        problem = next((f for f in report.findings if f.check == name and f.status != "ok"), None)
        if problem is None:
            note = CHECKS[name]
        else:
            where = f"round {problem.round + 1}: " if problem.round is not None else ""
            subject = f"{problem.label}: " if problem.label else ""
            note = f"{where}{subject}{problem.detail or 'see --json'}"
        rows.append((name, _MARK[entry["status"]], counts, note))
    return rows


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>FedChain audit of task {{ r.task_id }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;
font-size:.9rem}
th{background:#f3f3f3}.ok{color:#176117}.mismatch{color:#a00;font-weight:bold}
.unchecked{color:#8a5a00}code{font-size:.85rem;word-break:break-all}
.verdict{font-size:1.3rem;padding:.6rem 1rem;border-radius:.3rem;display:inline-block}
.verdict.ok{background:#e5f5e5}.verdict.mismatch{background:#fbe3e3}
.verdict.unchecked{background:#fff3d6}
</style></head><body>
<h1>Audit of task {{ r.task_id }}</h1>
<p>Source: {{ where }} · status {{ r.task.status }} · {{ r.task.clients|length }} clients ·
{{ r.task.miners|length }} miners · {{ r.rounds|length }} finalized rounds ·
{{ r.findings|length }} findings in {{ '%.2f'|format(r.seconds) }} s</p>
<p class="verdict {{ overall }}">{% if r.ok %}Every check holds{% elif overall == 'mismatch'
%}Mismatch found (exit {{ r.exit_code() }}){% else %}Some checks could not be made
(exit {{ r.exit_code() }}){% endif %}</p>
<h2>Checks</h2>
<table><tr><th>check</th><th>status</th><th>items</th><th>what it re-derives</th></tr>
{% for name, entry in table.items() %}<tr><td><code>{{ name }}</code></td>
<td class="{{ entry.status }}">{{ entry.status }}</td>
<td>{{ entry.ok }} ok{% if entry.mismatch %}, {{ entry.mismatch }} mismatch{% endif %}
{% if entry.unchecked %}, {{ entry.unchecked }} unchecked{% endif %}</td>
<td>{{ checks[name] }}</td></tr>{% endfor %}</table>
{% if problems %}<h2>Mismatches and unchecked items</h2>
<table><tr><th>round</th><th>check</th><th>subject</th><th>status</th><th>expected</th>
<th>found</th><th>transaction</th><th>detail</th></tr>
{% for f in problems %}<tr><td>{{ f.round + 1 if f.round is not none else '' }}</td>
<td><code>{{ f.check }}</code></td><td><code>{{ f.label }}</code></td>
<td class="{{ f.status }}">{{ f.status }}</td><td><code>{{ f.expected }}</code></td>
<td><code>{{ f.found }}</code></td><td><code>{{ f.tx_hash or '' }}</code></td>
<td>{{ f.detail }}</td></tr>{% endfor %}</table>{% endif %}
<h2>Rounds</h2>
{% for row in r.rounds %}<h3>Round {{ row.round + 1 }}</h3>
<p>Leader <code>{{ row.leader }}</code> (attempt {{ row.attempts }}), committee
{% for m in row.committee %}<code>{{ m }}</code>{% if not loop.last %}, {% endif %}{% endfor %};
global model <code>{{ row.global_model }}</code></p>
<table><tr><th>#</th><th>client</th><th>update</th><th>verdict</th><th>Multi-KRUM score</th>
<th>reason</th><th>audit</th></tr>
{% for s in row.submissions %}<tr><td>{{ s.index }}</td><td><code>{{ s.client }}</code></td>
<td><code>{{ s.cid }}</code></td>
<td class="{{ 'ok' if s.index in row.accepted else 'mismatch' }}">
{{ 'accepted' if s.index in row.accepted else 'rejected' }}</td>
<td>{{ '%.4g'|format(row.scores[s.index]) if s.index in row.scores else '' }}</td>
<td>{{ row.reasons.get(s.index, '') }}</td>
<td class="{{ status(row.round, s.client) }}">{{ status(row.round, s.client) }}</td></tr>
{% endfor %}</table>{% endfor %}
</body></html>
"""


def render_html(report: AuditReport, *, where: str = "") -> str:
    """The report as one HTML page."""
    env = Environment(autoescape=select_autoescape(default=True))
    template = env.from_string(_TEMPLATE)
    problems = [f for f in report.findings if f.status != "ok"]

    def status(round: int, subject: str) -> str:
        return report.status_of(round=round, subject=subject) or "ok"

    overall = "ok" if report.ok else ("mismatch" if report.mismatches else "unchecked")
    context: dict[str, Any] = {
        "r": report, "table": report.check_table(), "checks": CHECKS, "problems": problems,
        "where": where, "status": status, "overall": overall,
    }  # fmt: skip
    return template.render(**context)


def write_html(report: AuditReport, path: str | os.PathLike[str], *, where: str = "") -> Path:
    """Write :func:`render_html` to ``path`` atomically."""
    with atomic_output(path, mode=0o666) as fh:
        fh.write(render_html(report, where=where).encode("utf-8"))
    return Path(path)
