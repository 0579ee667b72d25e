"""An AWS access key rotated by a whole campaign against moto (inactive keys refused): the
journal says what was verified — deactivation refused before deletion, death after it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from keyreaper.domain import Secret
from keyreaper.providers.aws import AwsIamProvider
from keyreaper.workspace import Workspace
from tests.providers.test_aws import credential_of, key_ids, new_user
from tests.rotate.helpers import Bench, write_targets
from tests.servers.moto import MotoServer


def test_campaign_rotates_an_aws_key_and_journals_the_proof(
    moto_server: MotoServer, sqlite_workspace: Workspace, tmp_path: Path, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    user, (old,) = new_user(moto_server)
    aws = AwsIamProvider(
        endpoint_url=moto_server.url,
        access_key_id=moto_server.admin_key_id,
        secret_access_key=Secret(moto_server.admin_secret),
    )
    cred = credential_of(aws, old["AccessKeyId"])
    bench = Bench(sqlite_workspace, tmp_path)
    bench.add([cred], {cred.id: old["SecretAccessKey"]})
    monkeypatch.setenv("KR_TEST_AWS_ADMIN_SECRET", moto_server.admin_secret)
    write_targets(
        bench.targets,
        {"aws": {"endpoint_url": moto_server.url, "access_key_id": moto_server.admin_key_id,
                 "secret_access_key_env": "KR_TEST_AWS_ADMIN_SECRET"}},
        secrets=bench.secrets_file, sink_dir=bench.sink_dir,
        settings={"verify_count": 2, "verify_spacing": 0.0, "backoff": 0.1},
    )  # fmt: skip
    assert bench.cli("campaign", "plan", "c", "--all") == 0
    assert bench.run("c") == 0
    assert bench.status("c", capsys)["counts"]["dead"] == 1

    db = sqlite_workspace.db
    item = db.query("SELECT * FROM campaign_items WHERE credential_id = ?", (cred.id,))[0]
    new_id, new_secret = item["new_identifier"], bench.delivered(cred.id)
    assert key_ids(moto_server, user) == {new_id}  # the old key is deleted
    sts = moto_server.client("sts", new_id, new_secret)
    assert sts.get_caller_identity()["Arn"].endswith(f"user/{user}")  # the delivered key works
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidClientTokenId"):
        moto_server.client("sts", old["AccessKeyId"], old["SecretAccessKey"]).get_caller_identity()

    lines = {
        (r["action"], r["outcome"]): r["detail"]
        for r in db.query("SELECT * FROM audit_log WHERE subject = ?", (f"c/{cred.id}",))
    }
    revoked = lines[("campaign.revoke_old", "ok")]
    assert revoked.startswith("deactivated; the inactive key was refused")
    assert "InvalidClientTokenId" in revoked and revoked.endswith("; deleted")
    assert "InvalidClientTokenId" in lines[("campaign.verify_dead", "dead")]
    text = "".join(str(v) for r in db.query("SELECT * FROM audit_log") for v in r.values())
    assert old["SecretAccessKey"] not in text and new_secret not in text
    assert os.stat(bench.sink_dir / os.listdir(bench.sink_dir)[0]).st_mode & 0o077 == 0
