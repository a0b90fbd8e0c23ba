"""The round table and the summary lines printed after a task, and the acceptance statistics.

Tables are rich; the summary lines are plain text. Rounds are numbered from 1 here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from fedchain.report.labels import (
    _MALICIOUS_MARK,
    _display_round,
    _labeller,
    _lowered,
    _malicious,
    _ordered_malicious,
    format_wei,
    participant_legend,
)

__all__ = ["acceptance_stats", "round_table", "summary_lines"]

_DASH = "—"


def acceptance_stats(result: Mapping[str, Any]) -> dict[str, float]:
    """How well verification separated honest from malicious clients.

    Returns ``{"honest_accepted_share": x, "malicious_rejected_share": y}``: the share of honest
    client-rounds that were accepted and the share of malicious client-rounds that were rejected,
    counting only rounds in which the client submitted (missing ones are left out). A share with
    nothing to count is 1.0.
    """
    counts = _acceptance_counts(result)
    return {
        "honest_accepted_share": _share(counts["honest_accepted"], counts["honest_submitted"]),
        "malicious_rejected_share": _share(
            counts["malicious_rejected"], counts["malicious_submitted"]
        ),
    }


def _acceptance_counts(result: Mapping[str, Any]) -> dict[str, int]:
    """Client-rounds submitted, accepted and rejected, honest and malicious apart."""
    malicious = _malicious(result)
    counts = dict.fromkeys(
        ("honest_accepted", "honest_submitted", "malicious_rejected", "malicious_submitted"), 0
    )
    for record in result.get("rounds") or ():
        for verdict in ("accepted", "rejected"):
            for address in _lowered(record.get(verdict)):
                side = "malicious" if address in malicious else "honest"
                counts[f"{side}_submitted"] += 1
                if (side, verdict) in {("honest", "accepted"), ("malicious", "rejected")}:
                    counts[f"{side}_{verdict}"] += 1
    return counts


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def round_table(result: Mapping[str, Any]) -> Table:
    """One row per round: what the committee decided, what it cost, where reputations stand.

    Columns: ``round`` (from 1) · ``leader`` (miner label, ``(n tries)`` when the round needed
    more than one) · ``accepted`` (``8/10`` of all clients) · ``rejected`` and ``missing`` (client
    labels, malicious ones suffixed ``*``) · ``accuracy`` · ``reputation`` (``lo–hi`` over honest
    clients, then ``c8*=0`` per malicious client) · ``rewards`` (paid to clients that round) ·
    ``gas``. ``docs/report.md`` shows an example.
    """
    labels = _labeller(result)
    malicious = _malicious(result)
    clients = list(result.get("clients") or ())
    reputation = {a.lower(): list(v) for a, v in (result.get("reputation") or {}).items()}

    title = f"task {result.get('task_id', '?')}"
    details = [str(result[k]) for k in ("dataset", "model", "chain") if result.get(k)]
    if details:
        title += " · " + " · ".join(details)
    table = Table(title=title, title_justify="left")
    table.add_column("round", justify="right")
    table.add_column("leader")
    table.add_column("accepted", justify="right")
    table.add_column("rejected")
    table.add_column("missing")
    table.add_column("accuracy", justify="right")
    table.add_column("reputation (honest · malicious)")
    table.add_column("rewards", justify="right")
    table.add_column("gas", justify="right")

    for position, record in enumerate(result.get("rounds") or ()):
        accepted = record.get("accepted") or ()
        rewards = record.get("rewards") or {}
        gas = record.get("gas")
        table.add_row(
            str(_display_round(record, position)),
            _leader_cell(record, labels),
            f"{len(accepted)}/{len(clients)}" if clients else str(len(accepted)),
            _client_list(record.get("rejected"), labels, malicious),
            _client_list(record.get("missing"), labels, malicious),
            _accuracy(record.get("accuracy")),
            _reputation_cell(clients, reputation, malicious, labels, position),
            format_wei(sum(int(v) for v in rewards.values())),
            f"{int(gas):,}" if gas is not None else _DASH,
        )
    return table


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    """The plain-text lines printed under the table (no rich markup, safe to print as they are).

    Final accuracy, privacy budget, the escrow check (deposited = paid + refunded, ``OK`` or
    ``MISMATCH``), stakes and slashes, gas, wall time, how often each malicious client was rejected
    and the honest acceptance rate. Lines whose data the result lacks are left out. Where the
    result gives participants names (``result["names"]``), the lines end with who each name is
    (``c0 = 0x…full address (client)``).
    """
    lines: list[str] = []
    if result.get("final_accuracy") is not None:
        lines.append(f"final accuracy: {_accuracy(result['final_accuracy'])}")
    lines.append(_privacy_line(result))
    escrow = result.get("escrow")
    if escrow:
        lines.append(_escrow_line(escrow))
    stakes = result.get("stakes")
    if stakes:
        lines.append(
            f"stakes: client mortgages {format_wei(int(stakes.get('mortgages', 0)))}, "
            f"miner stakes {format_wei(int(stakes.get('miner_stakes', 0)))}, "
            f"slashed {format_wei(int(stakes.get('slashed', 0)))}"
        )
    if result.get("gas_total") is not None:
        lines.append(f"gas: {int(result['gas_total']):,} in total")
    if result.get("wall_seconds") is not None:
        lines.append(f"wall time: {_duration(float(result['wall_seconds']))}")
    request = result.get("request")
    if request:
        if request.get("task_id") is None:
            lines.append("request: not in the cache (the task did not finish)")
        else:
            kind = "DP-perturbed release" if request.get("perturbed") else "final model"
            lines.append(f"request: cached, answered by task {request['task_id']} with its "
                         f"{kind} {request['cid']} (fedchain request serves it)")  # fmt: skip
    lines.extend(_malicious_lines(result))
    counts = _acceptance_counts(result)
    if counts["honest_submitted"]:
        share = _share(counts["honest_accepted"], counts["honest_submitted"])
        line = f"honest clients: {share:.1%} of {counts['honest_submitted']} submissions accepted"
        malicious = _malicious(result)
        rounds = result.get("rounds") or ()
        cut = sum(a not in malicious for r in rounds for a in _lowered(r.get("left_out")))
        if cut:
            line += f" ({cut} kept out of an aggregate by the rule's cut, without penalty)"
        lines.append(line)
    else:
        lines.append("honest clients: no submissions to accept")
    if result.get("names"):
        lines.append("participants:")
        lines.extend(
            f"  {p['label']} = {p['address']} ({p['role']})" for p in participant_legend(result)
        )
    return lines


def _privacy_line(result: Mapping[str, Any]) -> str:
    privacy = result.get("privacy") or {}
    mechanism = privacy.get("mechanism")
    epsilon = result.get("epsilon")
    if epsilon is None:
        epsilon = (privacy.get("params") or {}).get("epsilon")
    if not mechanism:
        return "privacy: none (epsilon: n/a)"
    shown = _DASH if epsilon is None else f"{float(epsilon):g}"
    return f"privacy: epsilon {shown} ({mechanism})"


def _escrow_line(escrow: Mapping[str, Any]) -> str:
    deposited, paid, refunded = (int(escrow.get(k, 0)) for k in ("deposited", "paid", "refunded"))
    off = deposited - (paid + refunded)
    verdict = "OK" if off == 0 else f"MISMATCH (off by {off:+,} wei)"
    return (
        f"escrow: deposited {format_wei(deposited)} = paid {format_wei(paid)} "
        f"+ refunded {format_wei(refunded)}: {verdict}"
    )


def _malicious_lines(result: Mapping[str, Any]) -> list[str]:
    labels = _labeller(result)
    behaviours = {a.lower(): str(b) for a, b in (result.get("behaviours") or {}).items()}
    rounds = list(result.get("rounds") or ())
    ordered = _ordered_malicious(result)
    if not ordered:
        return ["malicious clients: none"]
    lines = []
    for address in ordered:
        key = address.lower()
        rejected = sum(key in _lowered(r.get("rejected")) for r in rounds)
        missing = sum(key in _lowered(r.get("missing")) for r in rounds)
        submitted = len(rounds) - missing
        left_out = sum(key in _lowered(r.get("left_out")) for r in rounds)
        behaviour = behaviours.get(key, "malicious")
        line = f"malicious {labels(address)} ({behaviour}) rejected {rejected}/{submitted} rounds"
        why = _rejection_kinds(rounds, key)
        if why:
            line += f" ({why})"
        if left_out:
            line += f", kept out of the aggregate (unpenalised) in {left_out} more"
        if missing:
            line += f" (missing in {missing})"
        lines.append(line)
    return lines


def _rejection_kinds(rounds: list[Mapping[str, Any]], key: str) -> str:
    """The distinct kinds of reason (the text before a colon) the verdict notes gave for
    rejecting ``key``, in first-seen order: ``"outlier"``, ``"stale"``, ``"copy of client 3's
    update"``..."""
    kinds: list[str] = []
    for r in rounds:
        if key not in _lowered(r.get("rejected")):
            continue
        reasons = {str(a).lower(): str(w) for a, w in (r.get("reasons") or {}).items()}
        kind = reasons.get(key, "").split(":")[0].strip()
        if kind and kind not in kinds:
            kinds.append(kind)
    return "; ".join(kinds)


def _leader_cell(record: Mapping[str, Any], labels: Callable[[str], str]) -> str:
    leader = record.get("leader")
    cell = labels(leader) if leader else _DASH
    attempts = int(record.get("attempts") or 1)
    if attempts > 1:
        cell += f" ({attempts} tries)"
    return cell


def _client_list(
    addresses: Iterable[str] | None, labels: Callable[[str], str], malicious: set[str]
) -> Text:
    parts = [
        Text(labels(a) + _MALICIOUS_MARK, style="red")
        if a.lower() in malicious
        else Text(labels(a))
        for a in addresses or ()
    ]
    return Text(" ").join(parts) if parts else Text(_DASH)


def _reputation_cell(
    clients: Sequence[str],
    reputation: Mapping[str, Sequence[int]],
    malicious: set[str],
    labels: Callable[[str], str],
    position: int,
) -> str:
    def value(address: str) -> int | None:
        values = reputation.get(address.lower())
        return int(values[position]) if values is not None and position < len(values) else None

    honest = [v for a in clients if a.lower() not in malicious and (v := value(a)) is not None]
    spread = ""
    if honest:
        low, high = min(honest), max(honest)
        spread = str(low) if low == high else f"{low}–{high}"
    flagged = " ".join(
        f"{labels(a)}{_MALICIOUS_MARK}={v}"
        for a in clients
        if a.lower() in malicious and (v := value(a)) is not None
    )
    return " · ".join(part for part in (spread, flagged) if part) or _DASH


def _accuracy(value: Any) -> str:
    return _DASH if value is None else f"{float(value):.3f}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m {rest:02d}s" if hours else f"{minutes}m {rest:02d}s"
