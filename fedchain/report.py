"""What a finished simulated task leaves behind: a printed table, summary lines and a run directory.

The input is plain data: the JSON-ready *result* dict the simulator produces (schema in
``docs/report.md``) and a list of transaction dicts. This module knows nothing of the chain or of
torch. Tables are rich, plots are matplotlib on the Agg canvas (imported only when a plot is drawn,
so importing :mod:`fedchain.report` stays cheap), and every file is written atomically.

Human views (the table, the plots) number rounds from 1; ``result.json`` and ``transactions.csv``
keep the on-chain round index, which starts at 0.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from fedchain.errors import ConfigError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "TRANSACTION_COLUMNS",
    "acceptance_stats",
    "client_labels",
    "default_run_dir",
    "format_wei",
    "plot_accuracy",
    "plot_payouts",
    "plot_reputation",
    "round_table",
    "short_address",
    "summary_lines",
    "write_run_dir",
    "write_transactions",
]

#: Header of ``transactions.csv``, in order.
TRANSACTION_COLUMNS = ("round", "label", "sender", "gas_used", "fee_wei", "block_number", "tx_hash")

_DASH = "—"
_MALICIOUS_MARK = "*"
# (exponent, unit name, smallest magnitude shown in this unit)
_UNITS = ((18, "ETH", 10**15), (9, "gwei", 10**6))
_SIGNIFICANT = 4


# --------------------------------------------------------------------------- labels and numbers


def short_address(addr: str) -> str:
    """``0x1234…abcd``: the first four and last four hex digits of an address."""
    if len(addr) <= 12:
        return addr
    return f"{addr[:6]}…{addr[-4:]}"


def client_labels(result: Mapping[str, Any]) -> dict[str, str]:
    """Map every address the result names to a short label.

    Clients are ``c0, c1, …`` by their index in ``result["clients"]``, miners ``m0, m1, …`` by
    their index in ``result["miners"]``; any other address (the requester, say) maps to
    :func:`short_address`. Matching ignores case, and each spelling found in the result is a key.
    """
    known: dict[str, str] = {}
    for prefix, key in (("c", "clients"), ("m", "miners")):
        for index, address in enumerate(result.get(key) or ()):
            known.setdefault(address.lower(), f"{prefix}{index}")
    labels: dict[str, str] = {}
    for address in _addresses_in(result):
        labels[address] = known.get(address.lower(), short_address(address))
    return labels


def format_wei(value: int) -> str:
    """A short human reading of an amount in wei: ``0``, ``123 wei``, ``1.5 gwei``, ``0.0123 ETH``.

    Amounts of at least 0.001 ETH are shown in ETH, amounts of at least 0.001 gwei in gwei, smaller
    ones in wei. Four significant digits are kept (all digits of the integer part), trailing zeros
    dropped, so the reading is exact-ish, never misleading by more than the last digit shown.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"an amount in wei must be an integer, got {value!r}")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    # The unit follows the rounded amount, so 999,999.9999 gwei reads 0.001 ETH, not 1,000,000 gwei.
    digits = len(str(magnitude))
    step = 10 ** max(0, digits - _SIGNIFICANT)
    rounded = (magnitude + step // 2) // step * step
    for exponent, unit, smallest in _UNITS:
        if rounded >= smallest:
            return f"{sign}{_significant(Decimal(magnitude).scaleb(-exponent))} {unit}"
    return f"{sign}{magnitude:,} wei"


def _significant(amount: Decimal) -> str:
    """``amount`` (≥ 0.001) rounded to four significant digits, integer part kept whole."""
    integer_digits = amount.adjusted() + 1  # 0.0123 -> -1, 1.5 -> 1, 1234.5 -> 4
    decimals = max(0, _SIGNIFICANT - integer_digits)
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


# --------------------------------------------------------------------------- statistics


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


# --------------------------------------------------------------------------- table and summary


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
    and the honest acceptance rate. Lines whose data the result lacks are left out.
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
    lines.extend(_malicious_lines(result))
    counts = _acceptance_counts(result)
    share = _share(counts["honest_accepted"], counts["honest_submitted"])
    lines.append(
        f"honest clients: {share:.1%} of {counts['honest_submitted']} submissions accepted"
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
        behaviour = behaviours.get(key, "malicious")
        line = f"malicious {labels(address)} ({behaviour}) rejected {rejected}/{submitted} rounds"
        if missing:
            line += f" (missing in {missing})"
        lines.append(line)
    return lines


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


def _display_round(record: Mapping[str, Any], position: int) -> int:
    """The 1-based round number shown to people (on-chain index + 1)."""
    number = record.get("round")
    return (int(number) if number is not None else position) + 1


# --------------------------------------------------------------------------- plots


def plot_accuracy(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a PNG of the global model's accuracy per round (x: round 1…n, y: 0…1)."""
    figure = _figure()
    axes = figure.add_subplot()
    points = [
        (_display_round(r, i), float(r["accuracy"]))
        for i, r in enumerate(result.get("rounds") or ())
        if r.get("accuracy") is not None
    ]
    if points:
        xs, ys = zip(*points, strict=True)
        axes.plot(xs, ys, marker="o", color="tab:blue", label="global model")
        axes.set_xticks(list(xs))
    else:
        axes.text(0.5, 0.5, "no rounds finished", ha="center", va="center")
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel("round")
    axes.set_ylabel("test accuracy")
    axes.set_title(f"Accuracy per round: {_task_title(result)}")
    axes.grid(True, alpha=0.4)
    return _save(figure, path)


def plot_reputation(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a PNG of each client's reputation after each round (malicious clients dashed, red)."""
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    axes = figure.add_subplot()
    labels = _labeller(result)
    malicious = _malicious(result)
    behaviours = {a.lower(): str(b) for a, b in (result.get("behaviours") or {}).items()}
    reputation = result.get("reputation") or {}
    honest = malicious_drawn = 0
    for address in _client_order(result, reputation):
        values = [int(v) for v in reputation[address]]
        xs = range(1, len(values) + 1)
        key = address.lower()
        if key in malicious:
            marker = _MALICIOUS_MARKERS[malicious_drawn % len(_MALICIOUS_MARKERS)]
            label = f"{labels(address)} ({behaviours.get(key, 'malicious')})"
            axes.plot(xs, values, linestyle="--", color="tab:red", marker=marker, label=label)
            malicious_drawn += 1
        else:
            colour = _HONEST_COLOURS[honest % len(_HONEST_COLOURS)]
            style = "-" if honest < len(_HONEST_COLOURS) else ":"
            axes.plot(xs, values, color=colour, linestyle=style, marker=".", label=labels(address))
            honest += 1
    if reputation:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
        axes.text(0.5, 0.5, "no reputation recorded", ha="center", va="center")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("round")
    axes.set_ylabel("reputation after the round")
    axes.set_title(f"Reputation per client: {_task_title(result)}")
    axes.grid(True, alpha=0.4)
    return _save(figure, path)


def plot_payouts(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a PNG with grouped bars per participant: what each earned and lost.

    Per client and miner: reward and penalty share above zero, M11 penalty and slashed stake
    below it, and a black diamond for the net gain (their sum: the payout less the mortgage or
    stake it got back). The requester is left out: its refund of the unearned escrow would
    dwarf everything else (the summary lines report it).
    """
    import numpy as np

    payouts = {
        a: p for a, p in (result.get("payouts") or {}).items() if p.get("role") != "requester"
    }
    labels = _labeller(result)
    malicious = _malicious(result)
    order = _participant_order(result, payouts)
    names = [labels(a) + (_MALICIOUS_MARK if a.lower() in malicious else "") for a in order]
    net = {
        a: sum(sign * int(payouts[a].get(part, 0)) for part, sign, _, _ in _PAYOUT_BARS)
        for a in order
    }
    largest = max(
        [abs(int(p.get(k, 0))) for p in payouts.values() for k in _PAYOUT_PARTS]
        + [abs(v) for v in net.values()],
        default=0,
    )
    scale, unit = _axis_unit(largest)

    figure = _figure(width=max(8.0, 0.55 * len(order) + 3.0))
    axes = figure.add_subplot()
    axes.set_title(f"Payouts per participant: {_task_title(result)}")
    if not order:
        axes.text(0.5, 0.5, "no payouts recorded", ha="center", va="center")
        return _save(figure, path)
    positions = np.arange(len(order), dtype=float)
    width = 0.2
    for offset, (part, sign, colour, legend) in enumerate(_PAYOUT_BARS):
        heights = [sign * int(payouts[a].get(part, 0)) / scale for a in order]
        axes.bar(positions + (offset - 1.5) * width, heights, width, color=colour, label=legend)
    gains = [net[a] / scale for a in order]
    axes.scatter(positions, gains, marker="D", color="black", zorder=3, label="net gain")
    axes.axhline(0.0, color="black", linewidth=0.8)
    axes.set_xticks(positions, names, rotation=45 if len(order) > 12 else 0)
    axes.set_ylabel(f"amount ({unit})")
    axes.grid(True, axis="y", alpha=0.4)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return _save(figure, path)


# Red is kept for malicious clients; honest ones cycle through the other tab10 colours.
_HONEST_COLOURS = (
    "tab:blue",
    "tab:green",
    "tab:orange",
    "tab:purple",
    "tab:brown",
    "tab:pink",
    "tab:gray",
    "tab:olive",
    "tab:cyan",
)
_MALICIOUS_MARKERS = ("x", "+", "v", "^", "s", "d")
_PAYOUT_PARTS = ("reward", "penalty", "penalty_share", "slashed")
_PAYOUT_BARS = (
    ("reward", 1, "tab:green", "reward"),
    ("penalty_share", 1, "tab:blue", "penalty share received"),
    ("penalty", -1, "tab:orange", "penalty (M11)"),
    ("slashed", -1, "tab:red", "stake slashed"),
)


def _axis_unit(largest: int) -> tuple[float, str]:
    for exponent, unit, smallest in _UNITS:
        if largest >= smallest:
            return float(10**exponent), unit
    return 1.0, "wei"


def _figure(*, width: float = 8.0, height: float = 4.5) -> Figure:
    """A figure on the Agg canvas, outside pyplot: no global backend switch, nothing to close."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    return _atomic_write(Path(path), lambda fh: figure.savefig(fh, format="png"))


def _task_title(result: Mapping[str, Any]) -> str:
    parts = [f"task {result.get('task_id', '?')}"]
    parts += [str(result[k]) for k in ("dataset", "model") if result.get(k)]
    return ", ".join(parts)


# --------------------------------------------------------------------------- files


def write_transactions(
    transactions: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]
) -> Path:
    """Write the transactions as CSV (header :data:`TRANSACTION_COLUMNS`); ``None`` is empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TRANSACTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for tx in transactions:
        writer.writerow({c: "" if tx.get(c) is None else tx[c] for c in TRANSACTION_COLUMNS})
    data = buffer.getvalue().encode("utf-8")
    return _atomic_write(Path(path), lambda fh: fh.write(data))


def write_run_dir(
    result: Mapping[str, Any],
    transactions: Iterable[Mapping[str, Any]],
    run_dir: str | os.PathLike[str],
) -> dict[str, Path]:
    """Write a run's files into ``run_dir`` (created with its parents) and return their paths.

    Files: ``result.json``, ``transactions.csv``, ``accuracy.png``, ``reputation.png``,
    ``payouts.png`` (keys ``result``, ``transactions``, ``accuracy_plot``, ``reputation_plot``,
    ``payouts_plot``). Each file is written to a temporary file beside it and renamed into place,
    so a crash never leaves half a file; other files already in ``run_dir`` are left alone.
    """
    directory = _ensure_directory(Path(run_dir))
    try:
        text = json.dumps(result, indent=2) + "\n"
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the run result cannot be written as JSON: {exc}") from exc
    data = text.encode("utf-8")
    return {
        "result": _atomic_write(directory / "result.json", lambda fh: fh.write(data)),
        "transactions": write_transactions(transactions, directory / "transactions.csv"),
        "accuracy_plot": plot_accuracy(result, directory / "accuracy.png"),
        "reputation_plot": plot_reputation(result, directory / "reputation.png"),
        "payouts_plot": plot_payouts(result, directory / "payouts.png"),
    }


def default_run_dir(base: str | os.PathLike[str] = "runs", *, prefix: str = "demo") -> Path:
    """Create and return a fresh ``<base>/<prefix>-YYYYmmdd-HHMMSS`` (UTC) directory.

    When that name is taken, ``-2``, ``-3``, … is appended. The directory is created here (with
    its parents) so that two runs started in the same second can never share it.
    """
    parent = _ensure_directory(Path(base))
    stem = f"{prefix}-{_utc_now():%Y%m%d-%H%M%S}"
    for attempt in range(1, 10_000):
        candidate = parent / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise ConfigError(f"no free run directory named {stem}-N under {parent}")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _ensure_directory(directory: Path) -> Path:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"run directory {directory} exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ConfigError(f"cannot create run directory {directory}: a parent is a file") from exc
    except PermissionError as exc:
        raise ConfigError(f"cannot create run directory {directory}: permission denied") from exc
    return directory


def _atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write through a temporary file in ``path``'s directory, then rename it onto ``path``.

    The temporary file is opened with mode 0o666 so the umask decides the final permissions,
    as for any ordinary file (``tempfile.mkstemp`` would leave them at 0o600).
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


# --------------------------------------------------------------------------- result helpers


def _addresses_in(result: Mapping[str, Any]) -> list[str]:
    """Every address the result names, first appearance first."""
    seen: dict[str, None] = {}

    def add(addresses: Iterable[str] | None) -> None:
        for address in addresses or ():
            if isinstance(address, str):
                seen.setdefault(address, None)

    add(result.get("clients"))
    add(result.get("miners"))
    add([result["requester"]] if result.get("requester") else None)
    add(result.get("malicious"))
    add(result.get("behaviours"))
    add(result.get("reputation"))
    add(result.get("payouts"))
    for record in result.get("rounds") or ():
        add([record["leader"]] if record.get("leader") else None)
        for key in ("committee", "accepted", "rejected", "missing", "rewards"):
            add(record.get(key))
    return list(seen)


def _labeller(result: Mapping[str, Any]) -> Callable[[str], str]:
    """A case-insensitive label lookup that falls back to :func:`short_address`."""
    lowered = {a.lower(): label for a, label in client_labels(result).items()}
    return lambda address: lowered.get(address.lower(), short_address(address))


def _malicious(result: Mapping[str, Any]) -> set[str]:
    """Lower-cased addresses of the clients that do not behave honestly."""
    return {
        a.lower() for a in (*(result.get("malicious") or ()), *(result.get("behaviours") or ()))
    }


def _ordered_malicious(result: Mapping[str, Any]) -> list[str]:
    malicious = _malicious(result)
    ordered = [a for a in result.get("clients") or () if a.lower() in malicious]
    listed = {a.lower() for a in ordered}
    extra = (*(result.get("malicious") or ()), *(result.get("behaviours") or ()))
    for address in extra:
        if address.lower() not in listed:
            ordered.append(address)
            listed.add(address.lower())
    return ordered


def _lowered(addresses: Iterable[str] | None) -> list[str]:
    return [a.lower() for a in addresses or ()]


def _client_order(result: Mapping[str, Any], reputation: Mapping[str, Any]) -> list[str]:
    """Keys of ``reputation`` in client-index order; addresses the client list lacks go last."""
    rank = {a.lower(): i for i, a in enumerate(result.get("clients") or ())}
    return sorted(reputation, key=lambda a: (rank.get(a.lower(), len(rank)), a.lower()))


def _participant_order(result: Mapping[str, Any], payouts: Mapping[str, Any]) -> list[str]:
    """Keys of ``payouts``: clients by index, then miners by index, then everyone else."""
    rank: dict[str, int] = {}
    for address in (*(result.get("clients") or ()), *(result.get("miners") or ())):
        rank.setdefault(address.lower(), len(rank))
    return sorted(payouts, key=lambda a: (rank.get(a.lower(), len(rank)), a.lower()))
