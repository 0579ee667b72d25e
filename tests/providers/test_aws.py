"""AWS IAM access keys against moto's server with authentication on: a deleted key fails."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.plugins import Probe
from keyreaper.providers.aws import KEY_TAG, PENDING_TAG, SESSION_POLICY, AwsIamProvider
from keyreaper.providers.aws_tags import pending_key
from keyreaper.providers.blockers import CreateBlocked, TargetRefused, TargetUnavailable
from tests.servers.common import free_port
from tests.servers.moto import MotoServer

READ_SELF = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}],
}


@pytest.fixture
def aws(moto_server: MotoServer) -> AwsIamProvider:
    return AwsIamProvider(
        endpoint_url=moto_server.url,
        access_key_id=moto_server.admin_key_id,
        secret_access_key=Secret(moto_server.admin_secret),
    )


def new_user(moto_server: MotoServer, keys: int = 1) -> tuple[str, list[dict[str, Any]]]:
    iam = moto_server.client("iam")
    name = f"svc-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=json.dumps(READ_SELF))
    made = [iam.create_access_key(UserName=name)["AccessKey"] for _ in range(keys)]
    return name, made


def credential_of(aws: AwsIamProvider, key_id: str) -> Credential:
    found = [c for c in aws.inventory() if c.identifiers[0] == key_id]
    assert len(found) == 1
    return found[0]


def tags(moto_server: MotoServer, user: str) -> dict[str, str]:
    got = moto_server.client("iam").list_user_tags(UserName=user)["Tags"]
    return {t["Key"]: t["Value"] for t in got}


def key_ids(moto_server: MotoServer, user: str) -> set[str]:
    got = moto_server.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    return {k["AccessKeyId"] for k in got}


def test_rotation_scenario_old_key_refused_by_aws(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, (old,) = new_user(moto_server)
    old_id, old_secret = old["AccessKeyId"], Secret(old["SecretAccessKey"])
    # The key is used once, so AWS's own last-used record has something to say.
    moto_server.client("iam", old_id, old_secret.reveal()).get_user(UserName=user)
    cred = credential_of(aws, old_id)
    assert cred.owner == user and cred.kind == "access_key"
    assert cred.extra["last_used"]["service_name"] == "iam"
    assert cred.extra["last_used"]["last_used_date"]

    assert aws.probe(cred, old_id, old_secret).liveness is Liveness.LIVE
    assert aws.create_blocker(cred) is None
    tag = "campaign=c1 item=7"
    new = aws.create(cred, tag)
    assert new.identifier != old_id and new.identifier.startswith("AKIA")
    assert tags(moto_server, user)[KEY_TAG + new.identifier] == tag
    assert not any(k.startswith(PENDING_TAG) for k in tags(moto_server, user))
    assert aws.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE

    said = aws.revoke(cred, old_id, old_secret)
    # Deactivation is proven by AWS refusing the inactive key before it is deleted.
    assert said.startswith("deactivated; the inactive key was refused")
    assert "InvalidClientTokenId" in said and said.endswith("; deleted")
    assert aws.revoke(cred, old_id, old_secret) == f"{old_id} was already deleted"  # repeat
    assert key_ids(moto_server, user) == {new.identifier}
    for _ in range(2):  # DEAD needs AWS's own refusal, repeatedly
        dead = aws.probe(cred, old_id, old_secret)
        assert dead.liveness is Liveness.DEAD and dead.auth_refused
        assert "InvalidClientTokenId" in dead.evidence
    assert aws.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE

    assert aws.revoke_sessions(cred) == 1
    assert aws.revoke_sessions(cred) == 0  # a recent cutoff is kept, not moved
    policy = moto_server.client("iam").get_user_policy(UserName=user, PolicyName=SESSION_POLICY)
    statement = policy["PolicyDocument"]["Statement"][0]
    assert statement["Effect"] == "Deny"
    assert "aws:TokenIssueTime" in statement["Condition"]["DateLessThan"]
    # Long-term keys carry no token issue time: the new key still works.
    assert aws.probe(cred, new.identifier, new.secret).liveness is Liveness.LIVE


def test_create_repeated_under_same_tag_replaces_lost_key(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    first = aws.create(cred, "campaign=c2")
    second = aws.create(cred, "campaign=c2")  # the caller lost `first`: it is replaced
    assert key_ids(moto_server, user) == {old["AccessKeyId"], second.identifier}
    assert aws.probe(cred, first.identifier, first.secret).liveness is Liveness.DEAD
    assert KEY_TAG + first.identifier not in tags(moto_server, user)


def test_two_key_limit_blocks_and_deletes_nothing(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, made = new_user(moto_server, keys=2)
    cred = credential_of(aws, made[0]["AccessKeyId"])
    reason = aws.create_blocker(cred)
    assert reason is not None and "already has 2 access keys" in reason
    assert all(k["AccessKeyId"] in reason for k in made)
    with pytest.raises(CreateBlocked) as blocked:
        aws.create(cred, "campaign=c3")
    assert blocked.value.needs_manual
    assert key_ids(moto_server, user) == {k["AccessKeyId"] for k in made}


def test_lost_secret_found_by_tag_and_discarded(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    lost = aws.create(cred, "campaign=c4 item=1").identifier  # the secret is dropped here
    assert aws.created_by_us(cred, "campaign=c4 item=1") == [lost]
    assert aws.created_by_us(cred, "campaign=other") == []
    aws.discard(cred, lost)
    aws.discard(cred, lost)  # already gone: nothing to do
    assert key_ids(moto_server, user) == {old["AccessKeyId"]}
    assert not any(k.startswith("keyreaper:") for k in tags(moto_server, user))
    with pytest.raises(CreateBlocked, match="did not create"):
        aws.discard(cred, old["AccessKeyId"])
    assert key_ids(moto_server, user) == {old["AccessKeyId"]}


def test_crash_between_create_and_key_tag_is_recovered(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    """The pending tag, written before CreateAccessKey, names the keys that existed."""
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    iam = moto_server.client("iam")
    tag = "campaign=c5 item=2"
    iam.tag_user(UserName=user, Tags=[{"Key": pending_key(tag), "Value": old["AccessKeyId"]}])
    orphan = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]  # crash here
    assert aws.created_by_us(cred, tag) == [orphan]
    new = aws.create(cred, tag)  # resume: the orphan is discarded, a fresh key made
    assert key_ids(moto_server, user) == {old["AccessKeyId"], new.identifier}
    assert not any(k.startswith(PENDING_TAG) for k in tags(moto_server, user))


def test_endpoint_error_is_unknown_never_dead() -> None:
    down = AwsIamProvider(
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="AKIAEXAMPLE000000000",
        secret_access_key=Secret("x"),
        timeout=1.0,
    )
    cred = Credential("aws:access_key:AKIAX", "aws", "access_key", ("AKIAX",), owner="u")
    got = down.probe(cred, "AKIAX", Secret("secret-value-canary"))
    assert got.liveness is Liveness.UNKNOWN and not got.auth_refused
    assert "secret-value-canary" not in got.evidence


def test_refuses_to_revoke_its_own_key(moto_server: MotoServer, aws: AwsIamProvider) -> None:
    cred = credential_of(aws, moto_server.admin_key_id)
    with pytest.raises(TargetRefused):
        aws.revoke(cred, moto_server.admin_key_id, None)
    assert moto_server.admin_key_id in key_ids(moto_server, cred.owner)


def test_no_secret_reaches_logs_or_reprs(
    moto_server: MotoServer, aws: AwsIamProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # even with every logger at DEBUG
    _user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    new = aws.create(cred, "campaign=c6")
    aws.probe(cred, new.identifier, new.secret)
    aws.revoke(cred, old["AccessKeyId"], Secret(old["SecretAccessKey"]))
    dead = aws.probe(cred, old["AccessKeyId"], Secret(old["SecretAccessKey"]))
    text = caplog.text + repr(new) + repr(cred) + dead.evidence + json.dumps(cred.extra)
    assert new.secret.reveal() not in text
    assert old["SecretAccessKey"] not in text


def test_user_found_from_key_when_inventory_lacks_it(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, (old,) = new_user(moto_server)
    bare = Credential(
        f"aws:access_key:{old['AccessKeyId']}", "aws", "access_key", (old["AccessKeyId"],)
    )
    assert aws.user_of(bare) == user
    aws.revoke(bare, old["AccessKeyId"], None)
    assert key_ids(moto_server, user) == set()


def test_permission_errors_are_refusals_not_retries(moto_server: MotoServer) -> None:
    user, (old,) = new_user(moto_server)  # may only iam:GetUser
    weak = AwsIamProvider(
        endpoint_url=moto_server.url,
        access_key_id=old["AccessKeyId"],
        secret_access_key=Secret(old["SecretAccessKey"]),
    )
    cred = Credential("aws:access_key:AKIAX", "aws", "access_key", ("AKIAX",), owner=user)
    with pytest.raises(TargetRefused, match="AccessDenied"):
        weak.create(cred, "campaign=c7")


def test_user_deleted_meanwhile_means_key_gone(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    iam = moto_server.client("iam")
    iam.delete_access_key(UserName=user, AccessKeyId=old["AccessKeyId"])
    iam.delete_user_policy(UserName=user, PolicyName="self")
    iam.delete_user(UserName=user)
    aws.revoke(cred, old["AccessKeyId"], None)  # the goal is already reached
    assert aws.created_by_us(cred, "campaign=c8") == []
    assert aws.probe(cred, old["AccessKeyId"], Secret(old["SecretAccessKey"])).auth_refused


def test_probes_from_many_threads_keep_their_own_keys(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    user, (live, dead) = new_user(moto_server, keys=2)
    moto_server.client("iam").delete_access_key(UserName=user, AccessKeyId=dead["AccessKeyId"])
    cred = Credential("aws:access_key:x", "aws", "access_key", ("x",), owner=user)
    jobs = [live, dead] * 8
    with ThreadPoolExecutor(8) as pool:
        got = list(
            pool.map(
                lambda k: aws.probe(cred, k["AccessKeyId"], Secret(k["SecretAccessKey"])), jobs
            )
        )
    assert [g.liveness for g in got] == [Liveness.LIVE, Liveness.DEAD] * 8


def test_inactive_key_is_refused_before_it_is_deleted(
    moto_server: MotoServer, aws: AwsIamProvider
) -> None:
    """moto_strict refuses an inactive key as AWS does, so deactivation is visible."""
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    secret = Secret(old["SecretAccessKey"])
    moto_server.client("iam").update_access_key(
        UserName=user, AccessKeyId=old["AccessKeyId"], Status="Inactive"
    )
    got = aws.probe(cred, old["AccessKeyId"], secret)
    assert got.liveness is Liveness.DEAD and got.auth_refused
    assert key_ids(moto_server, user) == {old["AccessKeyId"]}  # refused, yet not deleted
    assert "refused" in aws.revoke(cred, old["AccessKeyId"], secret)  # resumes: proves, deletes
    assert key_ids(moto_server, user) == set()


def test_inactive_key_still_accepted_is_not_deleted(
    moto_server: MotoServer, aws: AwsIamProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM is eventually consistent: while AWS still accepts the deactivated key, revoke
    stops before deleting it, and the engine retries the step later."""
    user, (old,) = new_user(moto_server)
    cred = credential_of(aws, old["AccessKeyId"])
    secret = Secret(old["SecretAccessKey"])
    monkeypatch.setattr(aws, "probe", lambda *a: Probe(Liveness.LIVE, "accepted"))
    with pytest.raises(TargetUnavailable, match="still accepts"):
        aws.revoke(cred, old["AccessKeyId"], secret)
    got = moto_server.client("iam").list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in got] == [(old["AccessKeyId"], "Inactive")]
    monkeypatch.undo()
    assert "refused" in aws.revoke(cred, old["AccessKeyId"], secret)
    assert key_ids(moto_server, user) == set()
