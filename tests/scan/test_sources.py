"""Sources: folders with .gitignore, git history with first-commit attribution, archives
(bomb-safe), Confluence and Jira exports with page titles and issue keys, HAR entries."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from keyreaper.fingerprint import Fingerprinter, KeyRing
from keyreaper.scan.engine import Engine
from keyreaper.scan.findings import ScanFinding
from keyreaper.scan.items import Item, Limits, Problem
from keyreaper.scan.scanner import Scanner
from keyreaper.scan.sources import archives, files, git
from tests.scan.conftest import aws_pair, github_token, okta_token


def _scan(engine: Engine, entries: list[Item | Problem]) -> tuple[list[ScanFinding], Scanner]:
    scanner = Scanner(engine, Fingerprinter(KeyRing.generate()))
    return list(scanner.run(entries)), scanner


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_folder_honours_gitignore(engine: Engine, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("ignored/\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "a.env").write_text(f"GH={github_token(seed=1)}\n")
    (tmp_path / "kept.env").write_text(f"GH={github_token(seed=2)}\n")
    all_found, _ = _scan(engine, list(files.items(str(tmp_path), Limits(), gitignore=False)))
    kept, _ = _scan(engine, list(files.items(str(tmp_path), Limits(), gitignore=True)))
    assert len(all_found) == 2
    assert [Path(f.location).name for f in kept] == ["kept.env"]


def _commit(repo: Path, msg: str, author: str, date: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": "a@b.c",
           "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": "a@b.c",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", msg], check=True, env=env)


def test_git_history_first_commit_attribution(engine: Engine, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "app.py").write_text("print('hi')\n")
    _commit(repo, "init", "alice", "2023-01-01T10:00:00+00:00")
    tok = github_token(seed=7)
    (repo / "config.py").write_text(f"TOKEN = '{tok}'\n")
    _commit(repo, "oops", "mallory", "2023-10-18T12:00:00+00:00")
    subprocess.run(["git", "-C", str(repo), "mv", "config.py", "settings.py"], check=True)
    _commit(repo, "rename", "bob", "2023-10-19T12:00:00+00:00")
    (repo / "settings.py").write_text("TOKEN = os.environ['TOKEN']\n")
    _commit(repo, "remove", "bob", "2023-10-20T12:00:00+00:00")
    entries = list(git.items(repo, Limits()))
    shas = [e.notes[0] for e in entries if isinstance(e, Item)]
    assert len(shas) == len(set(shas)), "every blob is scanned once"
    found, _ = _scan(engine, entries)
    assert len(found) == 1  # the renamed blob is the same object: one finding
    blob = next(
        e.notes[0] for e in entries if isinstance(e, Item) and e.location == found[0].location
    )
    origin = git.attribute(repo, {blob.removeprefix("blob:")})[blob.removeprefix("blob:")]
    assert (origin.author, origin.path, origin.date[:10]) == ("mallory", "config.py", "2023-10-18")


def test_cli_git_history_reports_first_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from keyreaper.cli import main

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    tok = github_token(seed=8)
    (repo / "deploy.sh").write_text(
        f"curl -H 'Authorization: token {tok}' https://api.github.com\n"
    )
    _commit(repo, "add", "eve", "2022-05-05T05:05:05+00:00")
    (repo / "deploy.sh").write_text("curl https://api.github.com\n")
    _commit(repo, "clean", "eve", "2022-06-06T06:06:06+00:00")
    code = main(["scan", "--git", "--format", "json", str(repo)])
    body = json.loads(capsys.readouterr().out)
    assert code == 1
    [f] = body["findings"]
    assert (f["location"], f["author"], f["date"][:10], f["rule"]) == (
        "deploy.sh",
        "eve",
        "2022-05-05",
        "github-pat",
    )
    assert len(f["commit"]) == 40


def test_git_history_parallel_equals_serial_and_sees_merge_resolutions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob that exists only in a merge commit (a conflict resolution) is scanned; a side
    branch's blob is attributed to its own commit; forked workers find what one process does."""
    from keyreaper.cli import main

    monkeypatch.setenv("KEYREAPER_SCAN_KEY", "cd" * 32)  # comparable fingerprints across runs
    repo = tmp_path / "m"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "a.cfg").write_text("x = 1\n")
    _commit(repo, "base", "ann", "2021-01-01T00:00:00+00:00")
    subprocess.run(["git", "-C", str(repo), "checkout", "-qb", "side"], check=True)
    side_tok = github_token(seed=21)
    (repo / "a.cfg").write_text("x = 2\n")
    (repo / "side.env").write_text(f"GH={side_tok}\n")
    _commit(repo, "side", "sid", "2021-02-02T00:00:00+00:00")
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    (repo / "a.cfg").write_text("x = 3\n")
    _commit(repo, "main", "ann", "2021-03-03T00:00:00+00:00")
    subprocess.run(["git", "-C", str(repo), "merge", "-q", "side"], capture_output=True)
    merge_tok = github_token(seed=22)
    (repo / "a.cfg").write_text(f"x = 4\nGH={merge_tok}\n")
    _commit(repo, "merge", "mel", "2021-04-04T00:00:00+00:00")
    runs = []
    for jobs in ("1", "2"):
        assert main(["scan", "--git", "-j", jobs, "--format", "json", str(repo)]) == 1
        body = json.loads(capsys.readouterr().out)
        runs.append(sorted((f["location"], f["author"], f["date"][:10], f["fingerprint"])
                           for f in body["findings"]))  # fmt: skip
    assert runs[0] == runs[1]
    assert [(loc, who, day) for loc, who, day, _ in runs[0]] == [
        ("a.cfg", "mel", "2021-04-04"),
        ("side.env", "sid", "2021-02-02"),
    ]


def test_nested_archives_and_labels(engine: Engine) -> None:
    tok = github_token(seed=9)
    inner_tar = io.BytesIO()
    with tarfile.open(fileobj=inner_tar, mode="w:gz") as tf:
        data = f"token: {tok}\n".encode()
        info = tarfile.TarInfo("deep/creds.yml")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    outer = _zip({"backup.tgz": inner_tar.getvalue()})
    found, scanner = _scan(engine, list(archives.expand(Item("x.zip", outer), Limits())))
    assert [f.location for f in found] == ["x.zip!backup.tgz!backup.tar!deep/creds.yml"]
    assert scanner.problems == []


def test_ten_level_nesting_reported_not_fatal(engine: Engine) -> None:
    tok = github_token(seed=10)
    data = f"t={tok}".encode()
    for level in range(10):
        data = _zip({f"l{level}.zip" if level else "s.txt": data})
    sibling = Item("plain.txt", f"t={github_token(seed=11)}".encode())
    found, scanner = _scan(
        engine, [*archives.expand(Item("n.zip", data), Limits(max_depth=6)), sibling]
    )
    assert [f.location for f in found] == ["plain.txt"]
    assert any("nested deeper than 6" in p.reason for p in scanner.problems)


def test_path_escape_and_symlink_in_tar_refused(engine: Engine) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in ("../../etc/evil.sh", "/abs/key.txt", "ok.txt"):
            data = f"t={github_token(seed=len(name))}".encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    found, scanner = _scan(engine, list(archives.expand(Item("t.tar", buf.getvalue()), Limits())))
    assert [f.location for f in found] == ["t.tar!ok.txt"]
    reasons = sorted(p.reason for p in scanner.problems)
    assert any("escapes" in r for r in reasons) and any("absolute" in r for r in reasons)
    assert any("link" in r for r in reasons)


def _overlapping_zip() -> bytes:
    """Two central-directory entries pointing at the same local file (the zip-bomb trick)."""
    raw = bytearray(_zip({"a.txt": b"A" * 1000}))
    cd = raw.index(b"PK\x01\x02")
    eocd = raw.index(b"PK\x05\x06")
    entry = bytes(raw[cd:eocd]).replace(b"a.txt", b"b.txt")
    raw[eocd:eocd] = entry
    eocd += len(entry)
    count = int.from_bytes(raw[eocd + 10 : eocd + 12], "little") + 1
    raw[eocd + 8 : eocd + 10] = count.to_bytes(2, "little")
    raw[eocd + 10 : eocd + 12] = count.to_bytes(2, "little")
    size = int.from_bytes(raw[eocd + 12 : eocd + 16], "little") + len(entry)
    raw[eocd + 12 : eocd + 16] = size.to_bytes(4, "little")
    return bytes(raw)


def test_overlapping_zip_and_ratio_bomb_refused(engine: Engine) -> None:
    bomb = _zip({"zeros.bin": b"\0" * (8 << 20)})
    gz = gzip.compress(b"\0" * (8 << 20))
    entries = [*archives.expand(Item("o.zip", _overlapping_zip()), Limits()),
               *archives.expand(Item("bomb.zip", bomb), Limits()),
               *archives.expand(Item("bomb.gz", gz), Limits())]  # fmt: skip
    _, scanner = _scan(engine, entries)
    reasons = " | ".join(p.reason for p in scanner.problems)
    assert "overlap" in reasons and "ratio" in reasons
    assert len(scanner.problems) == 3


def test_confluence_html_table_and_xml_export(engine: Engine) -> None:
    key_id, secret = aws_pair(seed=12)
    page = (
        "<html><head><title>OPS : Deploy credentials</title></head><body>"
        "<table class='confluenceTable'><tbody>"
        f"<tr><td class='confluenceTd'><p>AWS_ACCESS_KEY_ID</p></td><td class='confluenceTd'><p>{key_id}</p></td></tr>"
        f"<tr><td class='confluenceTd'><p>AWS_SECRET_ACCESS_KEY</p></td><td class='confluenceTd'><p>{secret}</p></td></tr>"
        "</tbody></table></body></html>"
    ).encode()
    tok = okta_token(seed=13)
    entities = (
        '<hibernate-generic><object class="Page" package="x"><id name="id">98305</id>'
        '<property name="title"><![CDATA[Okta runbook]]></property></object>'
        '<object class="BodyContent" package="x"><id name="id">5</id>'
        f"<property name=\"body\"><![CDATA[<p>curl -H 'Authorization: SSWS {tok}' https://acme.okta.com</p>]]></property>"
        '<property name="content" class="Page" package="x"><id name="id">98305</id></property></object>'
        '<object class="Attachment" package="x"><id name="id">77</id>'
        '<property name="title"><![CDATA[session.har]]></property></object></hibernate-generic>'
    ).encode()
    har_tok = github_token(seed=14)
    export = _zip({
        "OPS/Deploy-credentials_98306.html": page,
        "entities.xml": entities,
        "attachments/98305/77/1": json.dumps({"log": {"entries": [{"request": {
            "url": "https://api.github.com/user?x=1",
            "headers": [{"name": "Authorization", "value": f"token {har_tok}"}]}}]}}).encode(),
    })  # fmt: skip
    found, _ = _scan(engine, list(archives.expand(Item("space.zip", export), Limits())))
    by_rule = {f.rule: f for f in found}
    aws = by_rule["aws-secret-access-key"]
    assert aws.identifier == key_id and aws.label == "page OPS : Deploy credentials"
    assert by_rule["okta-api-token"].label == "bodycontent Okta runbook"
    assert by_rule["github-pat"].label == "attachment session.har on page Okta runbook"


def test_jira_exports_carry_issue_keys(engine: Engine) -> None:
    tok = github_token(seed=15)
    xml = (f"<rss><channel><item><title>x</title><key id='1'>OPS-1</key><description>fine</description></item>"
           f"<item><key id='2'>OPS-2</key><description>token {tok}</description></item></channel></rss><!-- jira -->").encode()  # fmt: skip
    js = json.dumps({"issues": [{"key": "SEC-7", "fields": {"description": "x"}},
                                {"key": "SEC-9", "fields": {"comment": f"use {tok}"}}]}).encode()  # fmt: skip
    csv_text = f'Summary,Issue key,Description\n"a, b",INF-3,"fine"\n"c",INF-4,"line one\nuses {tok}"\n'.encode()
    items = []
    for name, data in (("jira.xml", xml), ("issues.json", js), ("export.csv", csv_text)):
        items.extend(archives.expand(Item(name, b""), Limits()))
        item = files.read_file(Path("/dev/null"), name, Limits())
        assert isinstance(item, Item)
        item.data = data
        from keyreaper.scan.sources import labels

        factory = labels.detect(name, data[:4096])
        assert factory is not None
        item.labeler = factory(data)
        items.append(item)
    found, _ = _scan(engine, items)
    assert sorted(f.label for f in found) == ["issue INF-4", "issue OPS-2", "issue SEC-9"]


def test_stdin_target(tmp_path: Path) -> None:
    tok = github_token(seed=16)
    proc = subprocess.run(
        [os.sys.executable, "-m", "keyreaper", "scan", "--format", "json", "-"],  # type: ignore[attr-defined]
        input=f"x={tok}".encode(), capture_output=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    body = json.loads(proc.stdout)
    assert body["findings"][0]["location"] == "<stdin>"
    assert tok.encode() not in proc.stdout + proc.stderr


def test_deeply_nested_folders_are_walked(engine: Engine, tmp_path: Path) -> None:
    # deeper than Python's recursion limit: the walk keeps an explicit stack
    root = str(tmp_path / "deep")
    deep = root
    for _ in range(1100):
        deep = os.path.join(deep, "d")
        os.makedirs(deep)
    try:
        tok = github_token(seed=31)
        Path(deep, "x.env").write_text(f"GH={tok}\n")
        Path(root, "a.txt").write_text("nothing\n")
        names = list(files.walk_names(root))
        assert [Path(n).name for n in names] == ["a.txt", "x.env"]
        found, _ = _scan(engine, list(files.items(root, Limits())))
        assert [f.rule for f in found] == ["github-pat"]
    finally:
        # bottom-up: shutil.rmtree (and pytest's clean-up) would recurse past the limit
        os.remove(os.path.join(deep, "x.env"))
        while deep != root:
            os.rmdir(deep)
            deep = os.path.dirname(deep)
        os.remove(os.path.join(root, "a.txt"))
        os.rmdir(root)
