"""AWS Secrets Manager sink against moto's server with authentication on."""

from __future__ import annotations

import json

import pytest

from keyreaper.domain import Credential, Secret
from keyreaper.plugins import NewSecret
from keyreaper.sinks.aws_secrets import AwsSecretsManagerSink
from tests.servers.moto import MotoServer

CANARY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARY0001"


def sink_for(moto_server: MotoServer, **kw: object) -> AwsSecretsManagerSink:
    return AwsSecretsManagerSink(
        endpoint_url=moto_server.url,
        access_key_id=moto_server.admin_key_id,
        secret_access_key=Secret(moto_server.admin_secret),
        **kw,  # type: ignore[arg-type]
    )


def cred(key: str) -> Credential:
    return Credential(Credential.make_id("aws", "access_key", key), "aws", "access_key", (key,))


def test_deliver_creates_then_versions_and_is_idempotent(moto_server: MotoServer) -> None:
    sink = sink_for(moto_server)
    c = cred("AKIAOLD0000000000001")
    first = NewSecret("AKIANEW0000000000001", Secret(CANARY), "campaign=s1")
    receipt = sink.deliver(c, first)
    assert receipt.startswith("arn:aws:secretsmanager:") and " version " in receipt
    assert CANARY not in receipt
    assert sink.deliver(c, first) == receipt  # a repeat after a crash: same version

    sm = moto_server.client("secretsmanager")
    name = sink.secret_name(c)
    assert name == "keyreaper/aws/access_key/AKIAOLD0000000000001"
    stored = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    assert stored == {"id": "AKIANEW0000000000001", "secret": CANARY}

    second = NewSecret("AKIANEW0000000000002", Secret(CANARY[::-1]), "campaign=s2")
    receipt2 = sink.deliver(c, second)
    assert receipt2 != receipt
    current = sm.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert receipt2.endswith(current["VersionId"])
    assert json.loads(current["SecretString"])["id"] == "AKIANEW0000000000002"


def test_raw_format_and_named_target(moto_server: MotoServer) -> None:
    sink = sink_for(moto_server, value_format="raw")
    c = Credential(
        "okta:oauth_client:ocs1",
        "okta",
        "oauth_client",
        ("ocs1",),
        extra={"aws_secret_id": "apps/billing/client-secret"},
    )
    sink.deliver(c, NewSecret("ocs2", Secret(CANARY), "campaign=s3"))
    got = moto_server.client("secretsmanager").get_secret_value(
        SecretId="apps/billing/client-secret"
    )
    assert got["SecretString"] == CANARY


def test_bad_value_format_is_refused() -> None:
    with pytest.raises(ValueError, match="value_format"):
        AwsSecretsManagerSink(value_format="yaml")


def test_rotated_key_delivered_to_secrets_manager_works(moto_server: MotoServer) -> None:
    """create -> deliver -> read back what was delivered -> it authenticates; old one dies."""
    from keyreaper.domain import Liveness
    from keyreaper.providers.aws import AwsIamProvider

    iam = moto_server.client("iam")
    iam.create_user(UserName="svc-delivery")
    old = iam.create_access_key(UserName="svc-delivery")["AccessKey"]
    options = {  # as a campaign targets file passes them
        "endpoint_url": moto_server.url,
        "access_key_id": moto_server.admin_key_id,
        "secret_access_key": Secret(moto_server.admin_secret),
    }
    aws, sink = AwsIamProvider(**options), AwsSecretsManagerSink(**options)  # type: ignore[arg-type]
    c = next(c for c in aws.inventory() if c.identifiers[0] == old["AccessKeyId"])
    new = aws.create(c, "campaign=s4")
    sink.deliver(c, new)
    stored = moto_server.client("secretsmanager").get_secret_value(SecretId=sink.secret_name(c))
    delivered = json.loads(stored["SecretString"])
    probe = aws.probe(c, delivered["id"], Secret(delivered["secret"]))
    assert probe.liveness is Liveness.LIVE
    aws.revoke(c, old["AccessKeyId"], None)
    assert aws.probe(c, old["AccessKeyId"], Secret(old["SecretAccessKey"])).auth_refused


def test_secret_scheduled_for_deletion_is_restored(moto_server: MotoServer) -> None:
    sink = sink_for(moto_server)
    c = cred("AKIAOLD0000000000009")
    sink.deliver(c, NewSecret("AKIANEW0000000000008", Secret(CANARY), "campaign=s5"))
    sm = moto_server.client("secretsmanager")
    sm.delete_secret(SecretId=sink.secret_name(c), RecoveryWindowInDays=7)
    sink.deliver(c, NewSecret("AKIANEW0000000000009", Secret(CANARY), "campaign=s6"))
    got = sm.get_secret_value(SecretId=sink.secret_name(c))
    assert json.loads(got["SecretString"])["id"] == "AKIANEW0000000000009"
    assert "DeletedDate" not in sm.describe_secret(SecretId=sink.secret_name(c))
