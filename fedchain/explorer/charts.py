"""Small inline SVG charts for the explorer's pages (no script, no remote library)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = ["bar_chart", "line_chart"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")  # fmt: skip


def line_chart(series: Mapping[str, Sequence[float]], *, title: str, width: int = 560,
               height: int = 220, x_label: str = "round") -> str:  # fmt: skip
    """One polyline per series (x: index from 1, y: value between the lowest and the highest
    value of all series), with its axis bounds and a legend of short names."""
    points = [v for values in series.values() for v in values]
    if not points:
        return f"<p>{escape(title)}: no data yet</p>"
    low, top, n = min(points), max(points), max(len(v) for v in series.values())
    span = (top - low) or 1
    left, bottom, right, upper = 40, height - 30, width - 150, 24
    label = escape(title)
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             f'aria-label="{label}"><text x="{left}" y="14">{label}</text>']  # fmt: skip
    parts.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>')
    parts.append(f'<line x1="{left}" y1="{upper}" x2="{left}" y2="{bottom}" stroke="#999"/>')
    for k, (name, values) in enumerate(series.items()):
        colour = _COLOURS[k % len(_COLOURS)]
        xy = " ".join(
            f"{left + (right - left) * (i / max(1, n - 1)):.1f},"
            f"{bottom - (bottom - upper) * ((v - low) / span):.1f}"
            for i, v in enumerate(values)
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{xy}"/>')
        parts.append(f'<text x="{right + 8}" y="{28 + 14 * k}" fill="{colour}" '
                     f'font-size="11">{escape(name[:10])}…</text>')  # fmt: skip
    parts.append(f'<text x="4" y="{upper + 4}" font-size="10">{top:g}</text>'
                 f'<text x="4" y="{bottom}" font-size="10">{low:g}</text>'
                 f'<text x="{left}" y="{bottom + 14}" font-size="10">1</text>'
                 f'<text x="{right - 30}" y="{bottom + 14}" font-size="10">{x_label} {n}</text>'
                 "</svg>")  # fmt: skip
    return "".join(parts)


def bar_chart(values: Mapping[str, int], *, title: str, width: int = 560) -> str:
    """One horizontal bar per key (short names)."""
    if not values:
        return f"<p>{escape(title)}: nothing settled yet</p>"
    top = max(max(values.values()), 1)
    row, height = 16, 24 + 16 * len(values)
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><text x="0" y="14">{escape(title)}</text>']  # fmt: skip
    for k, (name, v) in enumerate(values.items()):
        y = 22 + row * k
        w = (width - 260) * v / top
        parts.append(f'<text x="0" y="{y + 11}" font-size="11">{escape(name[:12])}…</text>'
                     f'<rect x="110" y="{y}" width="{w:.1f}" height="{row - 4}" fill="#1f77b4"/>'
                     f'<text x="{114 + w:.1f}" y="{y + 11}" font-size="11">{v}</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
