"""PNG plots of a finished task: accuracy per round, reputation per client, payouts per participant.

matplotlib (and numpy) are imported only when a plot is drawn, on the Agg canvas outside pyplot,
so importing this module stays cheap. Rounds are numbered from 1 here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedchain.fsutil import atomic_output
from fedchain.report.labels import (
    _MALICIOUS_MARK,
    _display_round,
    _labeller,
    _malicious,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_accuracy", "plot_payouts", "plot_reputation"]


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
    """Amounts are drawn in ETH, the one unit of every human view (``largest`` is unused)."""
    del largest
    return 1e18, "ETH"


def _figure(*, width: float = 8.0, height: float = 4.5) -> Figure:
    """A figure on the Agg canvas, outside pyplot: no global backend switch, nothing to close."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | os.PathLike[str]) -> Path:
    with atomic_output(path, mode=0o666) as fh:  # the umask decides, as for any ordinary file
        figure.savefig(fh, format="png")
    return Path(path)


def _task_title(result: Mapping[str, Any]) -> str:
    parts = [f"task {result.get('task_id', '?')}"]
    parts += [str(result[k]) for k in ("dataset", "model") if result.get(k)]
    return ", ".join(parts)


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
