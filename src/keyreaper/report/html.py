"""The report as one self-contained HTML file: inline CSS and SVG, no script, no request
(a CSP that forbids any), readable offline and printable. Every value goes through markup.esc;
every section says so when it has nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from keyreaper.hunt.timeline import LANES
from keyreaper.report import charts
from keyreaper.report.data import TIMELINE_ROWS, Report
from keyreaper.report.markup import Markup, join, nothing, table, tag, void

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CAMPAIGN_SEGMENTS = (  # (counts key, label, colour), in the order an item moves
    ("dead", "verified dead", "#2e7d32"),
    ("rotated", "rotated", "#81c784"),
    ("failing", "failed", "#c62828"),
    ("blocked", "blocked", "#ef6c00"),
    ("needs_manual", "needs_manual", "#ad1457"),
    ("excepted", "excepted", "#6a1b9a"),
    ("remaining", "remaining", "#bdbdbd"),
)
VERDICTS = (("USED", "#1565c0"), ("NOT_SEEN", "#2e7d32"), ("UNKNOWN", "#9e9e9e"))

STYLE = Path(__file__).with_name("report.css")

SECTIONS = (
    ("campaigns", "Campaign progress"),
    ("exposures", "Exposures"),
    ("usage", "Usage attestations"),
    ("hunt", "Hunt hits and coverage gaps"),
    ("timeline", "Incident timeline"),
    ("iocs", "Indicators confirmed in this incident"),
)


def _t(value: Any) -> str:
    """A stored ISO time, shortened to the minute for reading; anything else as is."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


def _window(report: Report) -> str:
    since = report.since.isoformat() if report.since else "the beginning"
    until = report.until.isoformat() if report.until else "now"
    return f"{since} to {until}"


def header(report: Report) -> Markup:
    c = report.counts()
    alarm = c["claimed_unused_used"] or c["gaps"] or not report.has_events or c["dead"] < c["items"]
    meta = tag(
        "dl",
        tag("dt", "workspace"),
        tag("dd", report.workspace),
        tag("dt", "generated at"),
        tag("dd", report.generated_at.isoformat(timespec="seconds")),
        tag("dt", "time window"),
        tag(
            "dd",
            _window(report),
            " (hunt hits, coverage and timeline; campaigns, exposures and attestations as stored)",
        ),
        class_="meta",
    )
    nav = tag(
        "nav", tag("ol", *(tag("li", tag("a", title, href=f"#{key}")) for key, title in SECTIONS))
    )
    return join(
        [
            tag("h1", "keyreaper incident report"),
            meta,
            tag(
                "p", report.verdict(), class_="verdict alarm" if alarm else "verdict", id="verdict"
            ),
            nav,
        ]
    )


def campaigns(report: Report) -> Markup:
    if not report.campaigns:
        return nothing("no campaigns in this workspace")
    parts = []
    for c in report.campaigns:
        counts = c["counts"]
        segments = [(label, counts[key], colour) for key, label, colour in CAMPAIGN_SEGMENTS]
        parts.append(
            tag(
                "h3",
                f"campaign {c['campaign']}: {counts['dead']} of {counts['total']} verified dead",
            )
        )
        parts.append(charts.stacked(segments, f"campaign {c['campaign']} progress"))
        if c["critical"]:
            parts.append(
                tag(
                    "p",
                    f"{c['critical']} CRITICAL: old credential used after revocation",
                    class_="loud",
                )
            )
        if c["not_dead"]:
            parts.append(
                table(
                    c["not_dead"],
                    [
                        ("item", "item"),
                        ("provider", "provider"),
                        ("action", "action"),
                        ("step", "step"),
                        ("state", "state"),
                        ("severity", "severity"),
                        ("attempts", "attempts"),
                        ("why", "why"),
                    ],
                    row_class=lambda r: "critical" if r["severity"] == "critical" else None,
                )
            )
        else:
            parts.append(nothing("every item is verified dead"))
    return join(parts)


def exposures(report: Report) -> Markup:
    if not report.exposures:
        return nothing("no exposures in this workspace")
    rows = [{**e, "t0": _t(e["t0"])} for e in report.exposures]
    parts = [
        table(
            rows,
            [
                ("name", "exposure"),
                ("t0", "T0"),
                ("t0_source", "T0 from"),
                ("files", "files"),
                ("items", "items"),
                ("matched_items", "matched items"),
                ("orphans", "unmatched"),
                ("credentials", "credentials"),
            ],
        )
    ]
    for e in report.exposures:
        parts.append(tag("h3", f"{e['name']} (T0 {_t(e['t0']) or 'unknown'})"))
        if e["sources"]:
            parts.append(tag("p", "read from: ", join(e["sources"], "; "), class_="note"))
        if e["matched"]:
            parts.append(
                table(
                    e["matched"],
                    [("credential_id", "matched credential"), ("exposed_as", "exposed as")],
                )
            )
        else:
            parts.append(nothing("no item matched a credential in the inventory"))
        if e["unmatched"]:
            parts.append(
                tag(
                    "p",
                    f"{len(e['unmatched'])} unmatched item(s): leaked values no "
                    "inventory entry owns; someone must own and kill each",
                    class_="loud",
                )
            )
            parts.append(
                table(
                    e["unmatched"],
                    [
                        ("kind", "kind"),
                        ("hint", "hint"),
                        ("identifier", "identifier"),
                        ("occurrences", "occurrences"),
                        ("where", "where"),
                    ],
                )
            )
        else:
            parts.append(nothing("every item matched a credential"))
    return join(parts)


def usage(report: Report) -> Markup:
    if not report.usage:
        return nothing("no usage attestations stored (run keyreaper usage)")
    counts = {v: sum(1 for u in report.usage if u["verdict"] == v) for v, _ in VERDICTS}
    parts = [
        charts.stacked(
            [(v, counts[v], colour) for v, colour in VERDICTS], "usage verdicts", width=540
        )
    ]
    flagged = [{**u, "last_use": _t(u["last_use"])} for u in report.usage if u["flags"]]
    cols = [
        ("credential_id", "credential"),
        ("claim", "claim"),
        ("verdict", "verdict"),
        ("flags", "flags"),
        ("last_use", "last use"),
        ("use_count", "uses"),
        ("distinct_ips", "from"),
        ("last_evidence", "evidence (origin)"),
    ]
    parts.append(
        tag("h3", "flagged: claimed unused but used first, then never used, stale, new IP")
    )
    if flagged:
        parts.append(
            table(
                flagged,
                cols,
                row_class=lambda r: "critical" if r["severity"] == "critical" else None,
            )
        )
    else:
        parts.append(nothing("no attestation carries a flag"))
    unknown = [u for u in report.usage if u["verdict"] == "UNKNOWN"]
    parts.append(tag("h3", "UNKNOWN: use the logs could not show"))
    if unknown:
        parts.append(
            table(
                unknown,
                [("credential_id", "credential"), ("claim", "claim"), ("gaps", "why (gaps)")],
                row_class=lambda r: "gap",
            )
        )
    else:
        parts.append(nothing("no credential is UNKNOWN"))
    windows = sorted({(u["window_start"], u["window_end"]) for u in report.usage})
    parts.append(
        tag(
            "p",
            "attestation window(s): ",
            "; ".join(f"{_t(a)} to {_t(b)}" for a, b in windows),
            class_="note",
        )
    )
    return join(parts)


def hunt(report: Report) -> Markup:
    parts = []
    if report.hit_groups:
        per_hunt: dict[str, int] = {}
        for g in report.hit_groups:
            per_hunt[g["hunt"]] = per_hunt.get(g["hunt"], 0) + g["hits"]
        top = sorted(per_hunt.items(), key=lambda kv: (-kv[1], kv[0]))[:25]
        parts.append(charts.bars(top, "hunt hits per hunt", "#1565c0"))
        rows = [
            {
                **g,
                "when": [_t(g["first"])]
                + (["to " + _t(g["last"])] if g["last"] != g["first"] else []),
                "hunt": f"{g['hunt']}: {g['title']}" if g["title"] else g["hunt"],
            }
            for g in report.hit_groups
        ]
        parts.append(
            table(
                rows,
                [
                    ("when", "when"),
                    ("kind", "kind"),
                    ("hunt", "hunt"),
                    ("indicator", "indicator"),
                    ("hits", "hits"),
                    ("sources", "sources"),
                    ("actors", "actor"),
                    ("targets", "target"),
                    ("credentials", "credential"),
                    ("origins", "evidence (origin)"),
                ],
            )
        )
    else:
        parts.append(nothing("no hunt hits stored in this window"))
    parts.append(tag("h3", "coverage gaps: what the hunts could not see"))
    if not report.has_events:
        parts.append(
            tag(
                "p",
                f"no events in this workspace: all {report.hunts} hunts are blind "
                "(run keyreaper logs ingest)",
                class_="loud",
            )
        )
    elif report.gaps:
        blind = report.blind
        gaps = [{**r, "hunt_blind": "BLIND" if r["hunt_blind"] else ""} for r in report.gaps]
        parts.append(
            tag(
                "p",
                f"{len(report.gaps)} coverage gaps; hunts blind over this window: "
                f"{', '.join(blind) or 'none'}",
                class_="loud",
            )
        )
        parts.append(
            table(
                gaps,
                [
                    ("hunt", "hunt"),
                    ("source", "source"),
                    ("event_type", "event type needed"),
                    ("events", "events"),
                    ("status", "status"),
                    ("hunt_blind", "hunt blind"),
                ],
                row_class=lambda r: "gap",
            )
        )
    else:
        parts.append(nothing("no coverage gap: every hunt had the event types it needs"))
    return join(parts)


def timeline(report: Report) -> Markup:
    if not report.timeline:
        return nothing("nothing on the timeline in this window")
    parts = []
    parts.append(charts.lanes(report.timeline, LANES, "incident timeline"))
    key = [
        tag("li", f"{_t(r['time'])} {r['lane'].replace('_', ' ')}: {r['what']}")
        for r in charts.story(report.timeline)
    ]
    if key:
        parts.append(tag("ol", *key, class_="key"))
    shown = report.timeline[:TIMELINE_ROWS]
    rows = [{**r, "time": _t(r["time"])} for r in shown]
    parts.append(
        table(
            rows,
            [
                ("time", "time"),
                ("lane", "lane"),
                ("what", "what"),
                ("actor", "actor"),
                ("credential", "credential"),
                ("source", "source"),
                ("src_ip", "from"),
                ("evidence", "evidence"),
            ],
        )
    )
    if len(report.timeline) > len(shown):
        parts.append(
            tag(
                "p",
                f"{len(report.timeline) - len(shown)} more rows: keyreaper timeline --json",
                class_="note",
            )
        )
    return join(parts)


def iocs(report: Report) -> Markup:
    if not report.iocs:
        return nothing("no indicator confirmed in this incident (none was hit)")
    return table(report.iocs, [("indicator", "indicator"), ("type", "type"), ("note", "note")])


def render(report: Report) -> str:
    bodies = {
        "campaigns": campaigns,
        "exposures": exposures,
        "usage": usage,
        "hunt": hunt,
        "timeline": timeline,
        "iocs": iocs,
    }
    sections: Sequence[Markup] = [
        tag("section", tag("h2", title), bodies[key](report), id=key) for key, title in SECTIONS
    ]
    head = join(
        [
            void("meta", charset="utf-8"),
            void("meta", http_equiv="Content-Security-Policy", content=CSP),
            void("meta", name="referrer", content="no-referrer"),
            void("meta", name="viewport", content="width=device-width, initial-scale=1"),
            tag("title", f"keyreaper report: {report.workspace}"),
            tag("style", Markup(STYLE.read_text(encoding="utf-8"))),
        ]
    )
    body = join([header(report), *sections])
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n<body>{body}</body>\n</html>\n'
