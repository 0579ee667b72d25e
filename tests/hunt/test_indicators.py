"""Indicators: defanged text, CSV, MISP and STIX 2.1 in; STIX and a defanged table out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.hunt.replay import CLOUDFLARE_TABLE

from keyreaper.domain.model import Indicator
from keyreaper.errors import InputError
from keyreaper.hunt import store
from keyreaper.hunt.indicators import classify, defang, parse_text, refang
from keyreaper.hunt.ioc_formats import parse_stix, to_stix, to_table


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("193.142.58[.]126", ("ipv4", "193.142.58.126")),
        ("hxxps://evil[.]example[.]com/a", ("url", "https://evil.example.com/a")),
        ("idowall[.]com", ("domain", "idowall.com")),
        ("Admin(at)Evil(dot)com", ("email", "admin@evil.com")),
        ("10.1.2.0/24", ("cidr", "10.1.2.0/24")),
        ("2001:db8::1", ("ipv6", "2001:db8::1")),
        ("AS9009", ("asn", "9009")),
        ("AKIAIOSFODNN7EXAMPLE", ("credential_id", "AKIAIOSFODNN7EXAMPLE")),
        ("D41D8CD98F00B204E9800998ECF8427E", ("md5", "d41d8cd98f00b204e9800998ecf8427e")),
        ("primary", None),
    ],
)
def test_classify(text: str, expect: tuple[str, str] | None) -> None:
    assert classify(text) == expect


def test_cloudflare_table() -> None:
    got = [(i.type, i.value, i.description) for i in parse_text(CLOUDFLARE_TABLE, "blog")]
    assert got == [
        ("ipv4", "193.142.58.126", "primary actor infrastructure (M247, Bucharest)"),
        ("ipv4", "198.244.174.214", "Sliver C2 (OVH, London)"),
        ("domain", "idowall.com", "served the Sliver payload"),
        ("file_name", "jvm-agent", "Sliver payload"),
        (
            "sha256",
            "bdd1a085d651082ad567b03e5186d1d46d822bb7794157ab8cce95d850a3caaf",
            "Sliver payload",
        ),
    ]
    table = to_table(parse_text(CLOUDFLARE_TABLE, "blog"))
    assert "| 193.142.58[.]126 | IPv4 | primary actor infrastructure (M247, Bucharest) |" in table
    assert "| jvm-agent, sha256 bdd1a085" in table
    assert list(parse_text(table, "again")) == list(parse_text(CLOUDFLARE_TABLE, "again"))


def test_csv_misp_and_errors(tmp_path: Path) -> None:
    csv = tmp_path / "feed.csv"
    csv.write_text(
        "indicator,type,comment,valid_until\n1.2.3[.]4,ip,scanner,2024-01-01\nnot an ioc,,x,\n5.6.7.8,ip,,yesterday\n"
    )
    found, problems = store.read_file(csv)
    assert [(i.value, i.description, str(i.valid_until)) for i in found] == [
        ("1.2.3.4", "scanner", "2024-01-01 00:00:00+00:00")
    ]
    assert len(problems) == 2 and problems[0].startswith(f"{csv}:3")
    misp = tmp_path / "event.json"
    misp.write_text(json.dumps({"Event": {"info": "op", "Orgc": {"name": "CERT"}, "Attribute": [
        {"type": "ip-dst|port", "value": "9.9.9.9|443"}, {"type": "filename|sha256", "value": "a.exe|" + "ab" * 32},
        {"type": "user-agent", "value": "Evil UA/1.0"}]}}))  # fmt: skip
    found, _ = store.read_file(misp)
    assert {(i.type, i.value, i.source) for i in found} == {
        ("ipv4", "9.9.9.9", "CERT"), ("file_name", "a.exe", "CERT"), ("sha256", "ab" * 32, "CERT"),
        ("user_agent", "Evil UA/1.0", "CERT")}  # fmt: skip
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "bundle", "objects": [')
    with pytest.raises(InputError, match=r"bad\.json"):
        store.read_file(bad)


def test_stix_round_trip() -> None:
    inds = [Indicator("ipv4", "1.2.3.4", "x", "c2"), Indicator("domain", "evil.com", "x", "d"),
            Indicator("cidr", "10.0.0.0/8", "x", "net"), Indicator("sha256", "ab" * 32, "x", "f"),
            Indicator("user_agent", "Evil's UA", "x", "ua"), Indicator("asn", "9009", "x", "as")]  # fmt: skip
    back = list(parse_stix(to_stix(inds, "keyreaper"), "file"))
    assert {(i.type, i.value, i.description.split()[-1]) for i in back} == {
        (i.type, i.value, i.description) for i in inds
    }


@given(st.ip_addresses(v=4))
def test_defang_refang_ipv4(addr: object) -> None:
    ind = Indicator("ipv4", str(addr))
    assert classify(refang(defang(ind))) == ("ipv4", str(addr))
