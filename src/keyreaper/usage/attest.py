"""Attestations: a measured USED / NOT_SEEN / UNKNOWN verdict per credential with the
evidence behind it, and the flags that matter in an incident.

  USED      linked events in the window: first/last use, count, IPs, ASNs, user agents,
            and the origin (file:line) of the last use.
  NOT_SEEN  no use, and every source that could show this credential's use covers the
            whole window without a gap day (the sources and event types searched are named).
  UNKNOWN   no use, but some source that could show it is missing or has gaps (named).

Flags: critical:claimed_unused_but_used, never_used, stale:<days>d, new_ip:<ip>,
new_asn:AS<n>.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from keyreaper.domain import Attestation, Credential, UsageVerdict
from keyreaper.usage.asn import AsnLookup
from keyreaper.usage.coverage import SourceCoverage
from keyreaper.usage.lastuse import Use

CLAIMED_UNUSED = frozenset({"unused", "not_used", "not-used", "inactive", "dormant", "unused?"})

# Which sources can show a credential's use, by provider, then by kind.
BY_PROVIDER = {
    "aws": ("cloudtrail",),
    "okta": ("okta",),
    "github": ("github",),
    "google": ("google_workspace",),
    "google_workspace": ("google_workspace",),
    "cloudflare": ("cloudflare_access",),
    "cloudflare_access": ("cloudflare_access",),  # the source's own name, as inventories write it
    "kubernetes": ("kubernetes",),
    "k8s": ("kubernetes",),
    "postgresql": ("postgresql",),
    "postgres": ("postgresql",),
    "ssh": ("sshd",),
    "openssh": ("sshd",),
    "sshd": ("sshd",),
    "jira": ("jira",),
    "confluence": ("confluence",),
    "bitbucket": ("bitbucket",),
    "atlassian": ("atlassian_org", "jira", "confluence", "bitbucket"),
    "web": ("web_access",),
}
BY_KIND = {"ssh_key": ("sshd",), "db_role": ("postgresql",), "access_key": ("cloudtrail",)}


@dataclass(frozen=True)
class Settings:
    since: datetime
    until: datetime
    stale_days: int = 45
    new_source_days: int = 7


def relevant_sources(cred: Credential) -> tuple[str, ...]:
    """credential.extra["log_sources"] wins; else by provider, else by kind."""
    named = cred.extra.get("log_sources")
    if isinstance(named, list) and named:
        return tuple(str(s) for s in named)
    return BY_PROVIDER.get(cred.provider.lower()) or BY_KIND.get(cred.kind) or ()


def _searched(cov: SourceCoverage, settings: Settings) -> str:
    types = ", ".join(list(cov.event_types)[:12])
    more = len(cov.event_types) - 12
    return (
        f"{cov.source} {cov.first.isoformat()}..{cov.last.isoformat()} "
        f"({cov.events} events; types: {types}{f' +{more} more' if more > 0 else ''})"
    )


def _flags(
    cred: Credential,
    verdict: UsageVerdict,
    use: Use | None,
    settings: Settings,
    asn: AsnLookup | None,
) -> list[str]:
    flags: list[str] = []
    claimed = (cred.claim.status if cred.claim else "").strip().lower()
    if verdict is UsageVerdict.USED and claimed in CLAIMED_UNUSED:
        flags.append("critical:claimed_unused_but_used")
    last_ever = use.last_ever if use else None
    if verdict is UsageVerdict.NOT_SEEN and last_ever is None:
        flags.append("never_used")
    if last_ever is not None:
        idle = (settings.until - last_ever).days
        if idle >= settings.stale_days:
            flags.append(f"stale:{idle}d")
    recent = settings.until - timedelta(days=settings.new_source_days)
    had_history = use is not None and use.first_ever is not None and use.first_ever < recent
    if use and verdict is UsageVerdict.USED and had_history:
        known_asn = bool(asn) or bool(use.asns)
        for ip in use.new_ips:
            flags.append(f"new_ip:{ip}" + ("" if known_asn else " (IP-only)"))
        new_asns = set(use.new_asns)
        if asn is not None:  # the database knows ASNs the log did not carry
            older = {a for a in map(asn.asn, set(use.ips) - set(use.new_ips)) if a}
            new_asns |= {a for a in map(asn.asn, use.new_ips) if a} - older - set(use.asns)
        for number in sorted(new_asns):
            flags.append(f"new_asn:AS{number}")
    return flags


def attest(
    creds: Sequence[Credential],
    uses: Mapping[str, Use],
    cover: Mapping[str, SourceCoverage],
    settings: Settings,
    computed_at: datetime,
    asn: AsnLookup | None = None,
) -> list[Attestation]:
    out = []
    start, end = settings.since.date(), settings.until.date()
    for cred in creds:
        use = uses.get(cred.id)
        wanted = relevant_sources(cred)
        searched = [_searched(cover[s], settings) for s in wanted if s in cover]
        gaps: list[str] = []
        if not wanted:
            gaps.append(
                f"no log source is known for provider {cred.provider!r} / kind {cred.kind!r}"
                " (set extra.log_sources on the credential)"
            )
        for source in wanted:
            if source not in cover:
                gaps.append(f"{source}: no events ingested")
            else:
                gaps.extend(cover[source].gaps_within(start, end))
        if use and use.count:
            verdict = UsageVerdict.USED
        elif wanted and not gaps:
            verdict = UsageVerdict.NOT_SEEN
        else:
            verdict = UsageVerdict.UNKNOWN
        used = verdict is UsageVerdict.USED and use is not None
        out.append(
            Attestation(
                credential_id=cred.id,
                verdict=verdict,
                window_start=settings.since,
                window_end=settings.until,
                computed_at=computed_at,
                first_use=use.first if used and use else None,
                last_use=use.last if used and use else None,
                use_count=use.count if used and use else 0,
                distinct_ips=use.ips if used and use else (),
                distinct_asns=use.asns if used and use else (),
                distinct_user_agents=use.user_agents if used and use else (),
                last_evidence=(f"{use.last_source} {use.last_origin}" if used and use else ""),
                sources_searched=tuple(searched),
                gaps=tuple(gaps),
                flags=tuple(_flags(cred, verdict, use, settings, asn)),
            )
        )
    return out


def default_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    return now - timedelta(days=days), now
