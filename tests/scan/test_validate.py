"""--validate against local servers: each provider endpoint answers as its documentation
says (200 with a body for a good credential, 401 otherwise), AWS STS is moto with IAM
authentication on, and database URLs connect to a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from keyreaper.cli import main
from tests.scan.conftest import aws_pair, github_token, okta_token
from tests.servers.common import free_port, wait_for_port

GOOD_GH = github_token(seed=31)
BAD_GH = github_token(seed=32)
GOOD_OKTA = okta_token(seed=33)
BAD_OKTA = okta_token(seed=34)
GOOD_SLACK = "xoxb-123456789012-1234567890123-" + "Zq8Wx7Vc6Bn5Ma4Ls3Kd2Jf1"
BAD_SLACK = "xoxb-123456789012-1234567890123-" + "Hg7Tf6Rd5Es4Wa3Qz2Xc1Vb9"
GOOD_GL = "glpat-" + "Ab3De6Gh9Jk2Mn5Pq8St"
BAD_GL = "glpat-" + "Zy1Xw4Vu7Ts0Rq3Po6Nm"
GOOD_CF = "cfut_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"
BAD_CF = "cfut_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g0"
GOOD_ATL = "ATBB" + "p4Lm8Qx2Vn6Rt1Ws5Yz9Bc3D" + "0A1B2C3D"
BAD_ATL = "ATBB" + "k7Hj2Fg5Ds8Aq1Wz4Xc6Vb9N" + "9F8E7D6C"
GOOD_STRIPE = "sk_live_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4"
BAD_STRIPE = "sk_live_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6"


class _Provider(BaseHTTPRequestHandler):
    calls: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self) -> None:
        auth = self.headers.get("Authorization", "") + self.headers.get("PRIVATE-TOKEN", "")
        self.calls.append(self.path)
        ok, body = False, {}
        if self.path == "/user":
            ok, body = auth == f"token {GOOD_GH}", {"login": "octo"}
        elif self.path == "/api/v1/users/me":
            ok, body = auth == f"SSWS {GOOD_OKTA}", {"profile": {"login": "svc@acme.io"}}
        elif self.path == "/auth.test":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            good = auth == f"Bearer {GOOD_SLACK}"
            self.wfile.write(
                json.dumps(
                    {"ok": True, "team": "acme"} if good else {"ok": False, "error": "invalid_auth"}
                ).encode()
            )
            return
        elif self.path == "/api/v4/personal_access_tokens/self":
            ok, body = auth == GOOD_GL, {"name": "ci"}
        elif self.path == "/user/tokens/verify":
            ok, body = auth == f"Bearer {GOOD_CF}", {"result": {"status": "active"}}
        elif self.path == "/rest/api/3/myself":
            ok, body = auth == f"Bearer {GOOD_ATL}", {"accountId": "5b10"}
        elif self.path == "/v1/balance":
            import base64

            ok = auth == "Basic " + base64.b64encode(f"{GOOD_STRIPE}:".encode()).decode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body if ok else {"message": "Bad credentials"}).encode())

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "2", "AWS_DEFAULT_REGION": "us-east-1"}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def _run(
    target: Path, *extra: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, dict[str, str]]:
    capsys.readouterr()
    main(
        [
            "scan",
            "--format",
            "json",
            "--validate",
            "--validate-interval",
            "0",
            "--confirm-delay",
            "0.05",
            *extra,
            str(target),
        ]
    )
    body = json.loads(capsys.readouterr().out)
    return {f["rule"] + ":" + f["hint"]: f for f in body["findings"]}


def test_http_providers_live_and_dead(
    provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.sh").write_text(
        f"GOOD={GOOD_GH}\nBAD={BAD_GH}\n"
        f"curl -H 'Authorization: SSWS {GOOD_OKTA}' x\ncurl -H 'Authorization: SSWS {BAD_OKTA}' y\n"
        f"SLACK={GOOD_SLACK}\nSLACK2={BAD_SLACK}\nSTRIPE={GOOD_STRIPE}\nSTRIPE2={BAD_STRIPE}\n"
        f"GL={GOOD_GL}\nGL2={BAD_GL}\nCF={GOOD_CF}\nCF2={BAD_CF}\nATL={GOOD_ATL}\nATL2={BAD_ATL}\n"
    )
    names = ("github", "okta", "slack", "stripe", "gitlab", "cloudflare", "atlassian")
    eps = [f"--endpoint={name}={provider}" for name in names]
    found = _run(tmp_path, *eps, capsys=capsys)
    verdicts = sorted((f["rule"], f["liveness"]) for f in found.values())
    assert verdicts == [
        ("bitbucket-app-password", "DEAD"), ("bitbucket-app-password", "LIVE"),
        ("cloudflare-api-token-new", "DEAD"), ("cloudflare-api-token-new", "LIVE"),
        ("github-pat", "DEAD"), ("github-pat", "LIVE"), ("gitlab-pat", "DEAD"), ("gitlab-pat", "LIVE"),
        ("okta-api-token", "DEAD"), ("okta-api-token", "LIVE"),
        ("slack-bot-token", "DEAD"), ("slack-bot-token", "LIVE"), ("stripe-secret-key", "DEAD"), ("stripe-secret-key", "LIVE"),
    ]  # fmt: skip
    live = [f for f in found.values() if f["liveness"] == "LIVE"]
    assert any("login octo" in f["evidence"] for f in live)
    assert all("refused twice" in f["evidence"] for f in found.values() if f["liveness"] == "DEAD")


def test_network_error_is_unknown_not_dead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.env").write_text(f"T={GOOD_GH}\n")
    [f] = _run(
        tmp_path, f"--endpoint=github=http://127.0.0.1:{free_port()}", capsys=capsys
    ).values()
    assert f["liveness"] == "UNKNOWN" and "network" in f["evidence"]


def test_okta_without_org_url_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.sh").write_text(f"curl -H 'Authorization: SSWS {GOOD_OKTA}' x\n")
    [f] = _run(tmp_path, capsys=capsys).values()
    assert f["liveness"] == "UNKNOWN" and "--endpoint okta=URL" in f["evidence"]


def test_aws_sts_against_moto(
    moto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x" * 40)  # fmt: skip
    iam.create_user(UserName="svc")
    key = iam.create_access_key(UserName="svc")["AccessKey"]
    bad_id, bad_secret = aws_pair(seed=35)
    (tmp_path / "good.env").write_text(
        f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n"
    )
    (tmp_path / "bad.env").write_text(
        f"AWS_ACCESS_KEY_ID={bad_id}\nAWS_SECRET_ACCESS_KEY={bad_secret}\n"
    )
    found = _run(tmp_path, f"--endpoint=aws={moto}", capsys=capsys)
    by_file = {Path(f["location"]).name: f for f in found.values()}
    assert (
        by_file["good.env"]["liveness"] == "LIVE" and "user/svc" in by_file["good.env"]["evidence"]
    )
    assert by_file["bad.env"]["liveness"] == "DEAD"


def test_postgres_url_real_connection(
    postgres_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    good = postgres_server.dsn()
    bad = postgres_server.dsn(password="Wr0ngPassw0rdXyz")
    (tmp_path / "db.env").write_text(f"DATABASE_URL={good}\nOTHER_URL={bad}\n")
    found = _run(tmp_path, capsys=capsys)
    verdicts = sorted((f["liveness"], f["evidence"]) for f in found.values())
    assert [v[0] for v in verdicts] == ["DEAD", "LIVE"], verdicts
    out = json.dumps(list(found.values()))
    assert postgres_server.password not in out
