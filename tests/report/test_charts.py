"""The pictures and the escaping on their own: values become text, pictures stay bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keyreaper.hunt.timeline import LANES
from keyreaper.report import charts
from keyreaper.report.markup import Markup, esc, table, tag, void
from tests.report.page import read


def test_every_value_and_attribute_is_escaped() -> None:
    hostile = '"><script>alert(1)</script>'
    html = tag("p", hostile, title=hostile, class_=hostile)
    assert "<script" not in html and html.count("<") == 2  # <p ...> and </p>
    assert esc(Markup("<b>ok</b>")) == "<b>ok</b>"  # what this package built passes through
    assert void("meta", name="x", content="a'b\"c") == '<meta name="x" content="a&#x27;b&quot;c">'
    rows = [{"a": hostile, "b": ["<i>", "&"]}]
    cells = read(f'<section id="s">{table(rows, [("a", "A"), ("b", "B")])}</section>')[1]["s"]
    assert cells.tables[0][1] == [hostile, "<i>\n&"]  # read back as the same text, a line each


def test_stacked_bar_lists_zeros_and_draws_an_empty_bar() -> None:
    svg = charts.stacked([("dead", 0, "#000"), ("blocked", 0, "#111")], "empty")
    texts = read(f'<section id="s">{svg}</section>')[1]["s"].svgs[0].texts
    assert texts == ["dead 0", "blocked 0"]
    assert 'fill="#eee"' in svg


def _rows(n: int) -> list[dict[str, str]]:
    start = datetime(2023, 10, 18, tzinfo=UTC)
    return [
        {"time": (start + timedelta(minutes=7 * i)).isoformat(), "lane": LANES[i % len(LANES)],
         "what": f"ioc:ipv4 <hit {i}>" if i % 50 else f"story {i}"}
        for i in range(n)
    ]  # fmt: skip


def test_timeline_picture_stays_bounded_for_many_rows() -> None:
    few = charts.lanes(_rows(300), LANES, "t")
    many = charts.lanes(_rows(60_000), LANES, "t")
    assert few.count("<circle") == 300
    assert 0 < many.count("<circle") <= len(LANES) * 1100 // 2
    assert len(many) < 1_500_000
    assert "<hit" not in many and "&lt;hit" in many
    assert ">60<" in many and ">61<" not in many  # story rows numbered up to 60


def test_one_moment_still_has_a_width() -> None:
    row = {"time": "2023-11-23T16:00:00+00:00", "lane": "hit", "what": "x"}
    svg = charts.lanes([row], LANES, "t")
    assert 'cx="575.0"' in svg  # in the middle of an hour around it
    assert ">11-23 15:30<" in svg and ">11-23 16:29<" in svg
