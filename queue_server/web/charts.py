"""Charts drawn on the server as inline SVG: no chart library, no script, nothing from a CDN.

Two shapes cover what a manager reads at a glance: grouped bars (volumes or
waits per hour, business, window, staff) and lines (the same over days).
Each chart carries a text title and description for screen readers, and
colours are never the only signal (a legend names each series, values are
written on the bars when they fit).
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

W, H = 900, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 34, 64
COLOURS = ("#0b5cad", "#1e6b34", "#a8201a", "#8a5200", "#6a3d9a")


def _nice_max(value: float) -> float:
    """The axis' top: four equal steps, each a round number (1, 2, 5 × 10ⁿ, or 25, 250 …), so the
    gridlines read 5 / 10 / 15 / 20 tickets and never 6.2 / 12.5 / 18.8."""
    tick = max(value, 0) / 4
    if tick <= 0:
        return 4.0
    exp = 10 ** math.floor(math.log10(tick))
    for step in (1, 2, 2.5, 5, 10):
        if step == 2.5 and exp < 10:      # 0.25 and 2.5 would print as 0.2 and 2.5: keep to 1, 2, 5
            continue
        if tick <= step * exp * (1 + 1e-9):
            return 4 * step * exp
    return 40 * exp  # pragma: no cover


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.1f}"


def _frame(title: str, ymax: float, unit: str, series: list[tuple[str, list]]) -> list[str]:
    ph = H - TOP - BOTTOM
    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
             f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold" fill="#1a1a1a">{escape(title)}</text>']
    for i in range(5):
        y = TOP + ph - ph * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d5dae1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#444">'
                     f'{_fmt(ymax * i / 4)}</text>')
    if unit:
        parts.append(f'<text x="{LEFT - 6}" y="{TOP - 8}" font-size="11" text-anchor="end" fill="#444">{escape(unit)}</text>')
    x = W - RIGHT
    for i, (name, _) in reversed(list(enumerate(series))):
        label = escape(name)
        width = 14 + 13 * len(name)
        x -= width
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>'
                     f'<text x="{x + 14}" y="17" font-size="12" fill="#1a1a1a">{label}</text>')
    return parts


def _x_labels(labels: list[str], centres: list[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 24))
    out = []
    rotate = len(labels) > 12
    for i, (label, cx) in enumerate(zip(labels, centres)):
        if i % every:
            continue
        y = H - BOTTOM + 16
        text = escape(str(label))
        if rotate:
            out.append(f'<text x="{cx:.1f}" y="{y}" font-size="11" text-anchor="end" fill="#333" '
                       f'transform="rotate(-40 {cx:.1f} {y})">{text}</text>')
        else:
            out.append(f'<text x="{cx:.1f}" y="{y}" font-size="11" text-anchor="middle" fill="#333">{text}</text>')
    return out


def bars(title: str, labels: list[str], series: list[tuple[str, list[float | None]]], unit: str = "") -> Markup:
    """Grouped vertical bars: one group per label, one bar per series."""
    values = [v for _, vs in series for v in vs if v is not None]
    ymax = _nice_max(max(values, default=0))
    parts = _frame(title, ymax, unit, series)
    if not labels:
        parts.append(f'<text x="{W / 2}" y="{H / 2}" text-anchor="middle" fill="#555">—</text></svg>')
        return Markup("".join(parts))
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    group = pw / len(labels)
    bw = max(1.0, group * 0.8 / len(series))
    centres = []
    show_values = len(labels) * len(series) <= 40
    for i, _ in enumerate(labels):
        x0 = LEFT + group * i + group * 0.1
        centres.append(LEFT + group * (i + 0.5))
        for j, (name, vs) in enumerate(series):
            v = vs[i]
            if v is None:
                continue
            h = ph * v / ymax
            x, y = x0 + bw * j, TOP + ph - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(labels[i])} · {escape(name)}: '
                         f'{_fmt(v)}</title></rect>')
            if show_values and v:
                parts.append(f'<text x="{x + bw / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle" '
                             f'fill="#1a1a1a">{_fmt(v)}</text>')
    parts += _x_labels(labels, centres)
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(title: str, labels: list[str], series: list[tuple[str, list[float | None]]], unit: str = "") -> Markup:
    """Lines over a sequence of labels (days); a gap where a value is missing."""
    values = [v for _, vs in series for v in vs if v is not None]
    ymax = _nice_max(max(values, default=0))
    parts = _frame(title, ymax, unit, series)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = len(labels)
    xs = [LEFT + (pw * i / (n - 1) if n > 1 else pw / 2) for i in range(n)]
    for j, (name, vs) in enumerate(series):
        colour = COLOURS[j % len(COLOURS)]
        path, pen = [], "M"
        for x, v in zip(xs, vs):
            if v is None:
                pen = "M"
                continue
            path.append(f"{pen}{x:.1f} {TOP + ph - ph * v / ymax:.1f}")
            pen = "L"
        if path:
            parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        if n <= 40:
            for x, v in zip(xs, vs):
                if v is not None:
                    parts.append(f'<circle cx="{x:.1f}" cy="{TOP + ph - ph * v / ymax:.1f}" r="3" fill="{colour}">'
                                 f'<title>{escape(name)}: {_fmt(v)}</title></circle>')
    parts += _x_labels(labels, xs)
    parts.append("</svg>")
    return Markup("".join(parts))
