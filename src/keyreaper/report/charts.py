"""Small pictures in plain SVG: a stacked bar (campaign progress, verdict counts) and
horizontal bars (hits per hunt). Inline in the report, so no file, font or script is fetched;
text is escaped like every other value."""

from __future__ import annotations

from collections.abc import Sequence

from keyreaper.report.markup import Markup, join, tag

FONT = "font-family:system-ui,sans-serif;font-size:12px"


def _svg(width: int, height: int, label: str, *body: Markup) -> Markup:
    return tag(
        "svg",
        tag("title", label),
        *body,
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {width} {height}",
        width=width,
        height=height,
        role="img",
        aria_label=label,
        class_="chart",
    )


def stacked(
    segments: Sequence[tuple[str, int, str]], label: str, width: int = 720
) -> Markup:
    """One bar split into (name, count, colour) segments, with a legend of every segment —
    a zero is listed too, so a reader sees that nothing failed rather than guessing."""
    total = sum(n for _, n, _ in segments)
    bar_h, x = 28, 0.0
    rects = []
    for name, n, colour in segments:
        if not n:
            continue
        w = width * n / total
        rects.append(
            tag("rect", tag("title", f"{name}: {n}"), x=f"{x:.2f}", y=0, width=f"{w:.2f}",
                height=bar_h, fill=colour)  # fmt: skip
        )
        x += w
    if not total:
        rects.append(tag("rect", x=0, y=0, width=width, height=bar_h, fill="#eee"))
    legend = []
    per_row = 4
    for i, (name, n, colour) in enumerate(segments):
        lx, ly = (i % per_row) * (width // per_row), bar_h + 18 + (i // per_row) * 20
        legend.append(tag("rect", x=lx, y=ly - 10, width=12, height=12, fill=colour))
        legend.append(tag("text", f"{name} {n}", x=lx + 16, y=ly, style=FONT))
    rows = (len(segments) + per_row - 1) // per_row
    return _svg(width, bar_h + 12 + rows * 20, label, join(rects), join(legend))


def bars(items: Sequence[tuple[str, int]], label: str, colour: str, width: int = 720) -> Markup:
    """Horizontal bars, one per (name, count), longest first as given."""
    if not items:
        return Markup("")
    name_w, row_h = 300, 20
    top = max(n for _, n in items) or 1
    body = []
    for i, (name, n) in enumerate(items):
        y = i * row_h
        w = (width - name_w - 60) * n / top
        shown = name if len(name) <= 44 else name[:43] + "…"
        body.append(tag("text", shown, x=name_w - 6, y=y + 14, style=FONT, text_anchor="end"))
        body.append(
            tag("rect", tag("title", f"{name}: {n}"), x=name_w, y=y + 3, width=f"{max(w, 1):.2f}",
                height=row_h - 6, fill=colour)  # fmt: skip
        )
        body.append(tag("text", n, x=f"{name_w + max(w, 1) + 4:.2f}", y=y + 14, style=FONT))
    return _svg(width, len(items) * row_h + 4, label, join(body))


