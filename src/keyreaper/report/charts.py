"""Small pictures in plain SVG: a stacked bar (campaign progress, verdict counts) and
horizontal bars (hits per hunt). Inline in the report, so no file, font or script is fetched;
text is escaped like every other value."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from keyreaper.report.markup import Markup, join, tag

FONT = "font-family:system-ui,sans-serif;font-size:12px"
MAX_DOTS = 2000


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


def stacked(segments: Sequence[tuple[str, int, str]], label: str, width: int = 720) -> Markup:
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
            tag(
                "rect",
                tag("title", f"{name}: {n}"),
                x=f"{x:.2f}",
                y=0,
                width=f"{w:.2f}",
                height=bar_h,
                fill=colour,
            )
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
            tag(
                "rect",
                tag("title", f"{name}: {n}"),
                x=name_w,
                y=y + 3,
                width=f"{max(w, 1):.2f}",
                height=row_h - 6,
                fill=colour,
            )
        )
        body.append(tag("text", n, x=f"{name_w + max(w, 1) + 4:.2f}", y=y + 14, style=FONT))
    return _svg(width, len(items) * row_h + 4, label, join(body))


LANE_COLOURS = {
    "exposure": "#d62728",
    "first_use": "#ff7f0e",
    "hit": "#1f77b4",
    "sweep": "#9467bd",
    "action": "#2ca02c",
}


def _ticks(start: datetime, end: datetime, n: int = 8) -> list[datetime]:
    span = (end - start) / max(n - 1, 1)
    return [start + span * i for i in range(n)]


def story(rows: Sequence[dict[str, Any]], limit: int = 60) -> list[dict[str, Any]]:
    """The rows numbered on the picture: everything but the (many) indicator hits."""
    return [r for r in rows if not str(r["what"]).startswith("ioc:")][:limit]


def lanes(
    rows: Sequence[dict[str, Any]], lane_names: Sequence[str], label: str, width: int = 1100
) -> Markup:
    """The timeline as lanes of dots (hunt/timeline.py's picture, in plain SVG: one element
    per row is instant where a matplotlib scatter per row took seconds). Each dot's tooltip
    names the row; the story's rows (all but indicator hits) carry the numbers of story()."""
    times = [datetime.fromisoformat(r["time"]) for r in rows]
    if not times:
        return Markup("")
    start, end = min(times), max(times)
    if end - start < timedelta(hours=1):
        start, end = start - timedelta(minutes=30), end + timedelta(minutes=30)
    left, right, top, lane_h = 100, 50, 60, 64
    plot_w = width - left - right
    height = top + lane_h * len(lane_names) + 46

    def x(t: datetime) -> float:
        return left + plot_w * (t - start) / (end - start)

    def y(lane: str) -> float:
        return top + lane_h * (len(lane_names) - 1 - lane_names.index(lane)) + lane_h * 0.6

    body = [
        tag("text", label, x=width / 2, y=18, style=FONT + ";font-weight:600", text_anchor="middle")
    ]
    for lane in lane_names:
        body.append(
            tag("line", x1=left, x2=width - right, y1=y(lane), y2=y(lane), stroke="#e0e0e0")
        )
        body.append(
            tag(
                "text",
                lane.replace("_", " "),
                x=left - 8,
                y=y(lane) + 4,
                style=FONT,
                text_anchor="end",
            )
        )
    fmt = "%Y-%m-%d" if end - start > timedelta(days=2) else "%m-%d %H:%M"
    for t in _ticks(start, end):
        body.append(
            tag(
                "line", x1=f"{x(t):.1f}", x2=f"{x(t):.1f}", y1=top, y2=height - 40, stroke="#f0f0f0"
            )
        )
        body.append(
            tag(
                "text",
                t.strftime(fmt),
                x=f"{x(t):.1f}",
                y=height - 24,
                style=FONT,
                text_anchor="middle",
            )
        )
    # One dot per row; past MAX_DOTS, one dot per lane and 2-pixel column with the count in
    # its tooltip, so a hunt with 100,000 hits still gives a picture of bounded size.
    spots: dict[tuple[str, float], list[tuple[dict[str, Any], float]]] = {}
    for r, t in zip(rows, times, strict=True):
        cx = x(t)
        key = (r["lane"], cx // 2 if len(rows) > MAX_DOTS else float(len(spots)))
        spots.setdefault(key, []).append((r, cx))
    for members in spots.values():
        r, cx = members[0]
        tip = f"{r['time']} {r['lane']}: {r['what']}"
        if len(members) > 1:
            tip = f"{len(members)} rows from {r['time']} to {members[-1][0]['time']}; first: {tip}"
        body.append(
            tag(
                "circle",
                tag("title", tip),
                cx=f"{cx:.1f}",
                cy=f"{y(r['lane']):.1f}",
                r=5,
                fill=LANE_COLOURS.get(r["lane"], "#616161"),
                fill_opacity="0.8",
            )
        )
    body += _numbers(rows, times, x, y)
    return _svg(width, height, label, join(body))


def _numbers(
    rows: Sequence[dict[str, Any]],
    times: Sequence[datetime],
    x: Callable[[datetime], float],
    y: Callable[[str], float],
) -> list[Markup]:
    """The numbers of story() over their dots; those of a cluster stack upwards."""
    numbers = {id(r): n for n, r in enumerate(story(rows), 1)}
    placed: list[tuple[str, float, int]] = []  # (lane, x, level) of numbers drawn so far
    out = []
    for r, t in zip(rows, times, strict=True):
        n = numbers.get(id(r))
        if not n:
            continue
        cx, cy = x(t), y(r["lane"])
        near = [lv for lane, px, lv in placed if lane == r["lane"] and abs(px - cx) < 18]
        level = max(near, default=-1) + 1
        placed.append((r["lane"], cx, level))
        out.append(
            tag(
                "text",
                n,
                x=f"{cx:.1f}",
                y=f"{cy - 9 - (level % 4) * 12:.1f}",
                style=FONT + ";font-weight:600",
                text_anchor="middle",
            )
        )
    return out
