"""Real HARs from headless Chromium: every planted secret is found, and none survives sanitizing
(not raw, not base64-encoded, not URL-encoded)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

from keyreaper.cli import main
from keyreaper.exposure import har
from keyreaper.exposure.sanitize import sanitize_file
from tests.exposure.conftest import Recording


def _found(path: Path) -> tuple[dict[str, set[str]], set[str]]:
    """plaintext -> kinds found, and every identifier found."""
    values: dict[str, set[str]] = {}
    idents: set[str] = set()
    for occ in har.extract(path, har.HarStats()):
        if occ.hit.value:
            values.setdefault(occ.hit.value, set()).add(occ.hit.kind)
        if occ.hit.identifier:
            idents.add(occ.hit.identifier)
    return values, idents


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    forms = [raw, quote(value, safe="").encode(), quote_plus(value).encode()]
    for shift in range(3):  # base64 of the value at each alignment inside a larger blob
        chunk = base64.b64encode(b"x" * shift + raw)[4 if shift else 0 :][:-4]
        forms += [chunk, base64.urlsafe_b64encode(b"x" * shift + raw)[4 if shift else 0 :][:-4]]
    return [f for f in forms if len(f) >= 8]


def test_extractor_finds_every_planted_secret(recorded: Recording) -> None:
    values, idents = _found(recorded.har)
    p = recorded.planted
    for name, secret in p.secrets().items():
        assert secret in values, f"{name} not found"
    assert "oauth_code" in values[p.oauth_code]
    assert "code_verifier" in values[p.code_verifier]
    assert "cookie" in values[p.session_cookie]
    assert "okta_api_token" in values[p.ssws_token]
    assert "service_token_secret" in values[p.cf_client_secret]
    assert "basic_password" in values[p.basic_password]
    assert "saml_response" in values[p.saml_response]
    assert {"access_token", "bearer_token"} <= values[p.access_token]
    # identifiers that let the inventory match: client id, basic user, SAML assertion, jti
    assert {p.cf_client_id, p.basic_user, p.saml_assertion_id} <= idents
    assert any(i.startswith("AT.") for i in idents)


def test_sanitized_har_keeps_structure_and_holds_no_secret(
    recorded: Recording, tmp_path: Path
) -> None:
    out = tmp_path / "clean.har"
    san = sanitize_file(recorded.har, out)
    original = json.loads(recorded.har.read_text())
    clean = json.loads(out.read_text())
    assert len(clean["log"]["entries"]) == len(original["log"]["entries"]) == san.entries
    for a, b in zip(original["log"]["entries"], clean["log"]["entries"], strict=True):
        assert a["timings"] == b["timings"]
        assert a["startedDateTime"] == b["startedDateTime"]
        assert a["request"]["method"] == b["request"]["method"]
    data = out.read_bytes()
    for name, secret in recorded.planted.secrets().items():
        for form in _forms(secret):
            assert form not in data, f"{name} survives sanitizing in some form"
    # JWTs keep header and payload for debugging
    head_payload = recorded.planted.access_token.rsplit(".", 1)[0]
    assert (head_payload + ".redacted").encode() in data
    # the extractor finds nothing left in the output
    values, _ = _found(out)
    assert not set(values) & set(recorded.planted.secrets().values())


def test_sanitize_cli_reports_by_kind_and_hint_never_by_value(
    recorded: Recording, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clean.har"
    assert main(["har", "sanitize", str(recorded.har), str(out), "--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    kinds = {r["kind"] for r in rows}
    assert {"cookie", "authorization", "oauth_code", "jwt_signature"} <= kinds
    assert all(set(r) == {"kind", "where", "name", "hint", "count"} for r in rows)
    for secret in recorded.planted.secrets().values():
        assert secret not in captured.out + captured.err


def test_keep_spares_one_named_cookie(recorded: Recording, tmp_path: Path) -> None:
    out = tmp_path / "keep.har"
    sanitize_file(recorded.har, out, keep=("sid",))
    text = out.read_text()
    assert recorded.planted.session_cookie in text
    assert recorded.planted.idp_cookie not in text
    assert recorded.planted.api_key not in text


def test_exposure_add_on_the_recorded_har(sqlite_workspace, recorded: Recording, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.exposure.helpers import add_credential

    ws = sqlite_workspace
    p = recorded.planted
    okta = add_credential(ws, "okta", "api_token", "okta-tok-1", p.ssws_token)
    backup = add_credential(ws, "acme", "password", p.basic_user, None)
    gateway = add_credential(ws, "cloudflare", "service_token", p.cf_client_id, None)
    assert (
        main(
            [
                "-w",
                str(ws.root),
                "exposure",
                "add",
                "--name",
                "support-upload",
                str(recorded.har),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    first_entry = json.loads(recorded.har.read_text())["log"]["entries"][0]["startedDateTime"]
    assert summary["t0"] <= first_entry.replace("Z", "+00:00")
    assert (
        "startedDateTime of pages[0]" in summary["t0_source"]
        or "entries[0]" in summary["t0_source"]
    )
    assert main(["-w", str(ws.root), "exposure", "show", "support-upload", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    matched = {c for i in items for c in i["credentials"]}
    assert matched == {okta, backup, gateway}
    stored = b"".join(f.read_bytes() for f in ws.root.rglob("*") if f.is_file())
    for name, secret in p.secrets().items():
        assert secret.encode() not in stored, name


def test_har_scan_lists_findings_without_values(recorded: Recording, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["har", "scan", str(recorded.har), "--json"]) == 0
    out = capsys.readouterr().out
    rows = json.loads(out)
    assert {"oauth_code", "code_verifier", "okta_api_token", "basic_password", "saml_response"} <= {
        r["kind"] for r in rows
    }
    for secret in recorded.planted.secrets().values():
        assert secret not in out
