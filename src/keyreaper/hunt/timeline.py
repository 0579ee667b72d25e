"""The incident timeline: hunt hits, exposure T0s, first uses after exposure, campaign and
operator actions (the audit journal) and sweep results, merged in time order; as rows for
tables and JSON, and as a picture (PNG/SVG) for the report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from keyreaper.extras import require
from keyreaper.hunt.store import load_hits
from keyreaper.store.db import Database

LANES = ("exposure", "first_use", "hit", "sweep", "action")
READ_ONLY_ACTIONS = ("hunt.", "ioc.")


def _dt(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def identifiers(db: Database, credential: str) -> set[str]:
    rows = db.query(
        "SELECT identifier FROM credential_identifiers WHERE credential_id = ?", (credential,)
    )
    return {credential.lower(), *(str(r["identifier"]).lower() for r in rows)}


def _row(time: datetime, lane: str, what: str, **kw: Any) -> dict[str, Any]:
    row = {"time": time.astimezone(UTC).isoformat(), "lane": lane, "what": what,
           "actor": "", "credential": "", "source": "", "src_ip": "", "evidence": ""}  # fmt: skip
    row.update({k: v or "" for k, v in kw.items()})
    return row


def build(
    db: Database,
    con: duckdb.DuckDBPyConnection,
    credential: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
) -> list[dict[str, Any]]:
    ids = identifiers(db, credential) if credential else set()
    who = actor.lower() if actor else None
    rows: list[dict[str, Any]] = []

    def keep(actor_v: str, cred_v: str, inv: str = "") -> bool:
        if who and who not in (actor_v.lower(), actor_v.lower().split("@")[0]):
            return False
        return not ids or bool({actor_v.lower(), cred_v.lower(), inv.lower()} & ids)

    for h in load_hits(db, since=since):
        if not keep(h["actor"], h["credential"], h["inventory_id"]):
            continue
        lane = "sweep" if h["kind"] == "sweep" else "hit"
        what = h["title"] if lane == "sweep" else f"{h['hunt']}: {h['title']}"
        if h["indicator"]:
            what += f" [{h['indicator']} in {h['matched_field']}]"
        if h["detail"].get("why"):
            what += f" ({h['detail']['why']})"
        rows.append(_row(_dt(h["time"]) or datetime.now(UTC), lane, what, actor=h["actor"],
                         credential=h["credential"] or h["inventory_id"], source=h["source"],
                         src_ip=h["src_ip"], evidence=h["origin"], outcome=h["outcome"]))  # fmt: skip
    rows += _exposures(db, con, ids, since)
    for a in db.query(
        "SELECT at, actor, action, subject, outcome, detail FROM audit_log ORDER BY seq"
    ):
        t = _dt(a["at"])
        if t is None or (since and t < since) or (ids and a["subject"].lower() not in ids):
            continue
        if str(a["action"]).startswith(READ_ONLY_ACTIONS):
            continue  # hunting itself changes nothing: keep the lane for what did
        if who and who != str(a["actor"]).lower():
            continue
        rows.append(_row(t, "action", f"{a['action']} {a['subject']}".strip(), actor=a["actor"],
                         credential=a["subject"], evidence=f"audit_log: {a['outcome']}"))  # fmt: skip
    return sorted(rows, key=lambda r: (r["time"], LANES.index(r["lane"])))


def _exposures(
    db: Database, con: duckdb.DuckDBPyConnection, ids: set[str], since: datetime | None
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for e in db.query("SELECT name, t0, t0_source FROM exposures WHERE t0 IS NOT NULL"):
        t0 = _dt(e["t0"])
        if t0 is None:
            continue
        items = db.query(
            "SELECT DISTINCT credential_id, identifier FROM exposure_items WHERE exposure = ?",
            (e["name"],),
        )
        creds = sorted({str(i["credential_id"]) for i in items if i["credential_id"]})
        if ids and not ids & {c.lower() for c in creds} | {
            str(i["identifier"]).lower() for i in items
        }:
            continue
        if not since or t0 >= since:
            rows.append(_row(t0, "exposure", f"exposure {e['name']} T0 ({len(items)} items)",
                             credential=", ".join(creds), evidence=e["t0_source"]))  # fmt: skip
        for cred in creds:
            names = identifiers(db, cred)
            names |= {
                str(i["identifier"]).lower()
                for i in items
                if i["credential_id"] == cred and i["identifier"]
            }
            marks = ", ".join("?" for _ in names)
            first = con.execute(
                f"SELECT time, source, event_type, src_ip, origin, coalesce(actor_name, actor_id)"
                f" FROM events WHERE time > ? AND (lower(credential_id) IN ({marks})"
                f" OR lower(actor_name) IN ({marks}) OR lower(actor_id) IN ({marks}))"
                " ORDER BY time LIMIT 1",
                [t0, *sorted(names) * 3],
            ).fetchone()
            if first and (not since or first[0] >= since):
                rows.append(_row(first[0], "first_use", f"first use of {cred} after exposure"
                                 f" {e['name']} ({first[2]})", actor=first[5], credential=cred,
                                 source=first[1], src_ip=first[3], evidence=first[4]))  # fmt: skip
    return rows


def svg(rows: list[dict[str, Any]], title: str = "incident timeline") -> str:
    """The lane chart as a standalone SVG document: the report's plain-SVG drawing (one
    element per row, no matplotlib), so the file and the report show the same picture."""
    from keyreaper.report.charts import lanes

    return '<?xml version="1.0" encoding="utf-8"?>\n' + str(lanes(rows, LANES, title)) + "\n"


def picture(rows: list[dict[str, Any]], path: Path, title: str = "incident timeline") -> Path:
    """A lane chart of the timeline: SVG (plain, see svg()) or PNG (matplotlib) by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".svg":
        path.write_text(svg(rows, title), encoding="utf-8")
        return path
    require("matplotlib", "report")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"exposure": "#d62728", "first_use": "#ff7f0e", "hit": "#1f77b4",
              "sweep": "#9467bd", "action": "#2ca02c"}  # fmt: skip
    # Height by lanes, not rows: hundreds of hits share five lanes. One scatter per lane:
    # a scatter per row cost seconds for a few hundred rows.
    labelled = len(rows) <= 40
    fig, ax = plt.subplots(figsize=(12, 1.5 + (0.9 if labelled else 0.5) * len(LANES)))
    times = [_dt(r["time"]) for r in rows]
    for y, lane in enumerate(LANES):
        xs = [t for r, t in zip(rows, times, strict=True) if r["lane"] == lane]
        if xs:
            ax.scatter(xs, [y] * len(xs), color=colors[lane], s=40, zorder=3)  # type: ignore[arg-type]
    if labelled:
        for n, (r, t) in enumerate(zip(rows, times, strict=True)):
            ax.annotate(r["what"][:60], (t, LANES.index(r["lane"])), xytext=(4, 6 + (n % 3) * 9),
                        textcoords="offset points", fontsize=7, rotation=12)  # fmt: skip
    ax.set_yticks(range(len(LANES)), [lane.replace("_", " ") for lane in LANES])
    ax.set_ylim(-0.6, len(LANES) - 0.2)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, format=path.suffix.lstrip(".").lower() or "png", dpi=110)
    plt.close(fig)
    return path
