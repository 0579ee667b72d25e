"""What is not a finding beyond the rule tables: sample files, documentation prose, published
test keys. Each case has a control showing the same secret is found where it is real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan import checks
from keyreaper.scan.engine import Engine
from keyreaper.scan.items import Item
from keyreaper.scan.scanner import Scanner
from tests.scan.conftest import github_token, token


def _rules(engine: Engine, location: str, text: str) -> list[str]:
    scanner = Scanner(engine, Fingerprinter(KeyRing.generate()))
    return sorted(f.rule for f in scanner.scan_item(Item(location, text.encode())))


@pytest.mark.parametrize(
    "name",
    [
        "examples-1.json",
        ".env.example",
        "settings.sample.py",
        "sample_config.yaml",
        "a.zip!x/example.json",
    ],
)
def test_keyword_anchored_values_in_sample_files_are_illustrations(
    engine: Engine, name: str
) -> None:
    text = '{"NewPassword": "]35d/{pB9Fo9wJ", "password": "' + token(20, seed=3) + '1"}\n'
    assert _rules(engine, f"/src/botocore/{name}", text) == []
    # the same text in an ordinary file is a finding
    assert _rules(engine, "/src/app/config.json", text) != []


def test_provider_formats_still_count_in_sample_files(engine: Engine) -> None:
    text = f"GITHUB_TOKEN={github_token(seed=11)}\n"
    assert "github-pat" in _rules(engine, "/app/.env.example", text)


def test_example_file_names() -> None:
    assert checks.example_file("/x/examples-1.json")
    assert checks.example_file("/x/.env.sample")
    assert not checks.example_file("/examples/deploy.py")  # a folder name is no evidence
    assert not checks.example_file("/x/resamples.py")


def test_documentation_prose_lines_but_checksummed_tokens_count(engine: Engine) -> None:
    sas = "sv=2021-06-08&sr=c&sig=" + token(43, seed=5) + "%3D"
    assert (
        _rules(engine, "/x/service-2.json", f'  "documentation":"<p>Like this: {sas}</p>"\n') == []
    )
    assert _rules(engine, "/x/deploy.sh", f'URL="https://a.blob.core.windows.net/c?{sas}"\n') == [
        "azure-sas-token"
    ]
    ghp = github_token(seed=12)
    assert _rules(engine, "/x/a.yaml", f"description: deploy with {ghp}\n") == ["github-pat"]


def test_prose_lookup_does_not_cross_a_long_line(engine: Engine) -> None:
    data = b'"description": "x"\n' + b"a" * 5000 + b" value"
    assert not checks.in_prose(data, len(data) - 5)
    assert checks.in_prose(b'  "description": "see ', 20)


def _moto_keys() -> list[Path]:
    moto = pytest.importorskip("moto")
    folder = Path(moto.__file__).parent / "moto_proxy"
    return [folder / "ca.key", folder / "cert.key"]


def test_published_test_keys_are_not_findings(engine: Engine, tmp_path: Path) -> None:
    for path in _moto_keys():
        assert _rules(engine, str(path), path.read_text()) == [], path
    # control: a freshly generated key of the same format is found
    key = tmp_path / "k.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
            "-out",
            str(key),
        ],
        check=True,
        capture_output=True,
    )
    assert _rules(engine, str(key), key.read_text()) == ["private-key-pkcs8"]
