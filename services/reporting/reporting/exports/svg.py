"""Small server-side SVG charts for the printed report (WeasyPrint draws SVG; no JavaScript, no new dependency):
a bar chart and a line chart, values on a 0-based axis, labels in the report's CJK font. Text is XML-escaped, so
any label gives well-formed XML."""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import escape as _escape

FONT = "Noto Sans CJK SC"
# Characters XML 1.0 does not allow (C0 controls but tab, LF, CR; surrogates; U+FFFE/U+FFFF): dropped from labels.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
COLOURS = ("#1f5fa8", "#e07b24", "#3a9a5b", "#b8413b", "#7a5aa6")


def escape(text: str) -> str:
    return _escape(_NOT_XML.sub("", text))


def _nice_max(top: float) -> float:
    """The axis' top: the smallest 1, 2, 2.5 or 5 × 10^k at or above the largest value (1 when all are zero
    or too small to draw)."""
    if top < 1e-6:  # nothing to show at a chart's resolution (and a subnormal value would scale the axis to 0)
        return 1.0
    scale = 1.0
    while scale * 10 <= top:
        scale *= 10
    while scale > top:
        scale /= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * scale >= top:
            return step * scale
    return 10 * scale


def _fmt(v: float, percent: bool) -> str:
    if percent:
        return f"{v * 100:.0f}%"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"


def _frame(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">')  # fmt: skip
    caption = f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>'
    return "".join([head, caption, *body, "</svg>"])


def _axis(left: float, top: float, plot_w: float, plot_h: float, peak: float, percent: bool) -> list[str]:
    out = []
    for i in range(5):
        v = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{left + plot_w:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 4:.1f}" y="{y + 4:.1f}" text-anchor="end">{_fmt(v, percent)}</text>')
    return out


def _label_width(text: str) -> float:
    """Pixels a label takes at the charts' 11 px: a CJK character about the font size, others about half."""
    return sum(11.0 if ord(ch) > 0x2E7F else 6.2 for ch in text)


def bar_chart(labels: Sequence[str], values: Sequence[float | None], *, title: str = "", width: int = 640,
              height: int = 260, percent: bool = False) -> str:  # fmt: skip
    """One bar per label (None: no bar, the label stays), its value at its end. Upright bars while every label
    fits under its bar; lying bars (labels on the left, one row each) when they would overlap."""
    slot = (width - 60) / max(len(labels), 1)
    if any(_label_width(str(label)) > slot - 4 for label in labels):
        return _lying_bars(labels, values, title=title, width=width, percent=percent)
    left, top, bottom = 48.0, 40.0, 40.0
    plot_w, plot_h = width - left - 12, height - top - bottom
    peak = 1.0 if percent else _nice_max(max([v for v in values if v is not None] or [0]))
    body = _axis(left, top, plot_w, plot_h, peak, percent)
    slot = plot_w / max(len(labels), 1)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = left + slot * i
        if v is not None:
            h = plot_h * min(max(v, 0) / peak, 1.0)
            y = top + plot_h - h
            body.append(f'<rect x="{x + slot * 0.2:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[0]}"/>')  # fmt: skip
            body.append(f'<text x="{x + slot / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">{_fmt(v, percent)}</text>')
        body.append(f'<text x="{x + slot / 2:.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle">'
                    f"{escape(str(label))}</text>")  # fmt: skip
    body.append(f'<line x1="{left:.1f}" y1="{top + plot_h:.1f}" x2="{left + plot_w:.1f}" y2="{top + plot_h:.1f}" '
                'stroke="#333"/>')  # fmt: skip
    return _frame(width, height, title, body)


def _lying_bars(labels: Sequence[str], values: Sequence[float | None], *, title: str, width: int,
                percent: bool) -> str:  # fmt: skip
    row, top = 22.0, 32.0
    left = min(max([_label_width(str(label)) for label in labels] or [0]) + 12, width * 0.45)
    plot_w = width - left - 56
    height = int(top + row * len(labels) + 12)
    peak = 1.0 if percent else _nice_max(max([v for v in values if v is not None] or [0]))
    body = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = top + row * i
        body.append(f'<text x="{left - 6:.1f}" y="{y + row * 0.65:.1f}" text-anchor="end">{escape(str(label))}</text>')
        if v is not None:
            w = plot_w * min(max(v, 0) / peak, 1.0)
            body.append(f'<rect x="{left:.1f}" y="{y + row * 0.15:.1f}" width="{w:.1f}" height="{row * 0.7:.1f}" '
                        f'fill="{COLOURS[0]}"/>')  # fmt: skip
            body.append(f'<text x="{left + w + 4:.1f}" y="{y + row * 0.65:.1f}">{_fmt(v, percent)}</text>')
    body.append(f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{top + row * len(labels):.1f}" '
                'stroke="#333"/>')  # fmt: skip
    return _frame(width, height, title, body)


def line_chart(labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str = "",
               width: int = 640, height: int = 260, percent: bool = False) -> str:  # fmt: skip
    """One polyline per series over the labels (a None breaks the line), with a legend."""
    left, top, bottom = 48.0, 40.0, 48.0
    plot_w, plot_h = width - left - 12, height - top - bottom
    found = [v for vs in series.values() for v in vs if v is not None]
    peak = 1.0 if percent else _nice_max(max(found or [0]))
    body = _axis(left, top, plot_w, plot_h, peak, percent)
    step = plot_w / max(len(labels), 1)

    def point(i: int, v: float) -> tuple[float, float]:
        return left + step * (i + 0.5), top + plot_h - plot_h * min(max(v, 0) / peak, 1.0)

    for n, (name, values) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        run: list[str] = []
        for i, v in enumerate(values):
            if v is None:
                if len(run) > 1:
                    body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
                run = []
                continue
            x, y = point(i, v)
            run.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        if len(run) > 1:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>')
        lx = left + n * 150
        body.append(f'<rect x="{lx:.1f}" y="{height - 14:.1f}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{lx + 14:.1f}" y="{height - 5:.1f}">{escape(name)}</text>')
    for i, label in enumerate(labels):
        body.append(f'<text x="{left + step * (i + 0.5):.1f}" y="{top + plot_h + 16:.1f}" text-anchor="middle">'
                    f"{escape(str(label))}</text>")  # fmt: skip
    return _frame(width, height, title, body)
