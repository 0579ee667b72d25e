"""AWS IAM access keys: inventory, probe with sts:GetCallerIdentity, rotate, revoke.

What keyreaper creates is named in tags on the owning IAM user (see aws_tags). Revoking
deactivates the key, proves the deactivation with AWS's own refusal of the old key, and only
then deletes it; verify_dead then probes the deleted key again.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from keyreaper.domain import Credential, Liveness, Secret
from keyreaper.extras import require
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers import aws_tags
from keyreaper.providers.aws_tags import KEY_TAG, PENDING_TAG
from keyreaper.providers.blockers import CreateBlocked, TargetRefused, TargetUnavailable

__all__ = ["KEY_TAG", "PENDING_TAG", "SESSION_POLICY", "AwsIamProvider", "session_deny_policy"]

SESSION_POLICY = "keyreaper-revoke-older-sessions"
# AWS's own words for "this key is not (or no longer) a valid credential".
AUTH_REFUSALS = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidAccessKeyId"})
# Answers that say nothing about the key: retry later.
TRANSIENT = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}
)
MAX_KEYS_PER_USER = 2


def quiet_sdk_logs() -> None:
    """botocore logs whole response bodies at DEBUG, CreateAccessKey's secret included,
    before we can wrap it in a Secret: keep its loggers at INFO whatever the root says."""
    for name in ("botocore", "boto3", "urllib3"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:  # NOTSET (0) would inherit a DEBUG root
            logger.setLevel(logging.INFO)


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


class AwsRefused(TargetRefused):
    """IAM said no (AccessDenied, NoSuchEntity, LimitExceeded...); `code` says which."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"iam {operation}: {message}")
        self.code = code


class AwsIamProvider:
    """IAM users' access keys. `endpoint_url` points at another endpoint (moto, a VPC one)."""

    name = "aws"
    kinds = ("access_key",)
    # How a new secret comes to be, per kind, known without a network call (for a plan):
    # "api" = create() makes it; "manual" = a person must; "never" = revoke only.
    creates = {"access_key": "api"}

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: Secret | None = None,
        session_token: Secret | None = None,
        profile: str | None = None,
        timeout: float = 10.0,
        session_reuse_seconds: float = 3600.0,
        prove_deactivation: bool = True,
    ) -> None:
        boto3 = require("boto3", "aws")
        quiet_sdk_logs()
        self._config = require("botocore.config", "aws").Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        self._errors = require("botocore.exceptions", "aws")
        self.region = region
        self.endpoint_url = endpoint_url
        self.admin_key_id = access_key_id
        self._session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key.reveal() if secret_access_key else None,
            aws_session_token=session_token.reveal() if session_token else None,
            profile_name=profile,
            region_name=region,
        )
        self.session_reuse = timedelta(seconds=session_reuse_seconds)
        self.prove_deactivation = prove_deactivation
        self._client_lock = threading.Lock()
        self._iam = self._client("iam")
        self._iam_once = self._session.client(
            "iam",
            endpoint_url=endpoint_url,
            config=self._config.merge(
                require("botocore.config", "aws").Config(retries={"max_attempts": 1})
            ),
        )

    def _client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint_url, config=self._config)

    # -- calls, with AWS's failures sorted into ours ---------------------------------------

    def _call(self, operation: str, *, once: bool = False, **params: Any) -> Any:
        """An IAM call; `once` disables botocore's retries for calls that must not repeat."""
        client = self._iam_once if once else self._iam
        try:
            return getattr(client, operation)(**params)
        except self._errors.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in TRANSIENT or status >= 500:
                raise TargetUnavailable(f"iam {operation}: {code} (HTTP {status})") from exc
            raise AwsRefused(operation, code, str(exc)) from exc
        except self._errors.BotoCoreError as exc:
            raise TargetUnavailable(f"iam {operation}: {type(exc).__name__}: {exc}") from exc

    def user_of(self, credential: Credential) -> str:
        """The owning IAM user: from inventory, else AWS says it for the key id."""
        user = credential.extra.get("user_name") or credential.owner
        if user:
            return str(user)
        got = self._call("get_access_key_last_used", AccessKeyId=credential.identifiers[0])
        if not got.get("UserName"):
            raise TargetRefused(f"{credential.id}: AWS names no IAM user for this key")
        return str(got["UserName"])

    def _keys(self, user: str) -> list[dict[str, Any]]:
        keys: list[dict[str, Any]] = []
        marker: str | None = None
        while True:
            params: dict[str, Any] = {"UserName": user}
            if marker:
                params["Marker"] = marker
            try:
                page = self._call("list_access_keys", **params)
            except AwsRefused as exc:
                if exc.code == "NoSuchEntity":  # the user is gone, and its keys with it
                    return []
                raise
            keys.extend(page.get("AccessKeyMetadata", []))
            if not page.get("IsTruncated"):
                return keys
            marker = page["Marker"]

    def _tags(self, user: str) -> dict[str, str]:
        try:
            tags = self._call("list_user_tags", UserName=user).get("Tags", [])
        except AwsRefused as exc:
            if exc.code == "NoSuchEntity":
                return {}
            raise
        return {t["Key"]: t["Value"] for t in tags}

    # -- inventory and usage evidence -------------------------------------------------------

    def last_used(self, access_key_id: str) -> dict[str, str]:
        """GetAccessKeyLastUsed: when, which service, which region (AWS's own usage record)."""
        got = self._call("get_access_key_last_used", AccessKeyId=access_key_id)
        used = got.get("AccessKeyLastUsed", {})
        return {
            "last_used_date": _iso(used.get("LastUsedDate")),
            "service_name": str(used.get("ServiceName", "")),
            "region": str(used.get("Region", "")),
        }

    def _users(self) -> Iterator[dict[str, Any]]:
        marker: str | None = None
        while True:
            params: dict[str, Any] = {"Marker": marker} if marker else {}
            page = self._call("list_users", **params)
            yield from page.get("Users", [])
            if not page.get("IsTruncated"):
                return
            marker = page["Marker"]

    def inventory(self) -> Iterator[Credential]:
        for user in self._users():
            name = user["UserName"]
            tags = self._tags(name)
            for key in self._keys(name):
                key_id = key["AccessKeyId"]
                yield Credential(
                    id=Credential.make_id(self.name, "access_key", key_id),
                    provider=self.name,
                    kind="access_key",
                    identifiers=(key_id, user["Arn"]),
                    name=f"{name}/{key_id}",
                    owner=name,
                    created=_iso(key.get("CreateDate")),
                    extra={
                        "user_name": name,
                        "user_arn": user["Arn"],
                        "status": key.get("Status", ""),
                        "last_used": self.last_used(key_id),
                        "created_by_keyreaper": tags.get(KEY_TAG + key_id, ""),
                    },
                )

    # -- probe ------------------------------------------------------------------------------

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        """sts:GetCallerIdentity signed with the key itself; needs no permission at all."""
        # One shared session (its loaded service models) with the key's own credentials:
        # five times cheaper than a new Session per probe. Sessions are not thread-safe.
        with self._client_lock:
            sts = self._session.client(
                "sts",
                endpoint_url=self.endpoint_url,
                config=self._config,
                aws_access_key_id=identifier,
                aws_secret_access_key=secret.reveal(),
                aws_session_token=None,
            )
        try:
            who = sts.get_caller_identity()
        except self._errors.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in AUTH_REFUSALS:
                return Probe(Liveness.DEAD, f"sts:GetCallerIdentity refused: {code}", True)
            return Probe(Liveness.UNKNOWN, f"sts:GetCallerIdentity error: {code or exc}")
        except self._errors.BotoCoreError as exc:
            return Probe(Liveness.UNKNOWN, f"endpoint error: {type(exc).__name__}")
        return Probe(Liveness.LIVE, f"sts:GetCallerIdentity accepted as {who.get('Arn', '?')}")

    # -- create / discard -------------------------------------------------------------------

    def create_blocker(self, credential: Credential, tag: str | None = None) -> str | None:
        """What stops a create now, for the plan to show; None when a slot is free.
        Keys made under `tag` whose secret was lost do not count: create replaces them."""
        user = self.user_of(credential)
        keys = self._keys(user)
        stale = set(self._ours(user, keys, tag)) if tag is not None else set()
        taken = [k["AccessKeyId"] for k in keys if k["AccessKeyId"] not in stale]
        if len(taken) >= MAX_KEYS_PER_USER:
            return (
                f"IAM user {user} already has {len(taken)} access keys ({', '.join(taken)}); "
                f"AWS allows {MAX_KEYS_PER_USER}: remove one that is not being rotated, "
                "keyreaper never deletes a key it did not create"
            )
        return None

    def create(self, credential: Credential, tag: str) -> NewSecret:
        user = self.user_of(credential)
        keys = self._keys(user)
        # Keys we made under this tag whose secret the caller evidently lost: it asks again.
        for stale in self._ours(user, keys, tag):
            self.discard(credential, stale)
        blocker = self.create_blocker(credential, tag)
        if blocker:
            raise CreateBlocked(blocker)
        before = [k["AccessKeyId"] for k in self._keys(user)]
        self._call("tag_user", UserName=user, Tags=[aws_tags.pending_tag(tag, before)])
        # Never retried by botocore: a repeat after a lost answer would make a second key.
        # A lost answer surfaces as TargetUnavailable; the pending tag then finds the key.
        made = self._call("create_access_key", once=True, UserName=user)["AccessKey"]
        key_id = made["AccessKeyId"]
        self._call("tag_user", UserName=user, Tags=[aws_tags.key_tag(key_id, tag)])
        self._call("untag_user", UserName=user, TagKeys=[aws_tags.pending_key(tag)])
        return NewSecret(identifier=key_id, secret=Secret(made["SecretAccessKey"]), tag=tag)

    def _ours(self, user: str, keys: list[dict[str, Any]], tag: str | None) -> list[str]:
        """Key ids created by keyreaper (under `tag`, or under any tag when None)."""
        return aws_tags.ours(self._tags(user), (k["AccessKeyId"] for k in keys), tag)

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        user = self.user_of(credential)
        return self._ours(user, self._keys(user), tag)

    def discard(self, credential: Credential, identifier: str) -> None:
        """Delete a key keyreaper created (its secret is lost); refuses any other key."""
        user = self.user_of(credential)
        keys = self._keys(user)
        if identifier not in {k["AccessKeyId"] for k in keys}:
            self._untag_key(user, identifier)
            return
        if identifier not in self._ours(user, keys, None):
            raise CreateBlocked(f"refusing to discard {identifier}: keyreaper did not create it")
        self._delete_key(user, identifier, _status(keys, identifier))

    # -- revoke -----------------------------------------------------------------------------

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> str:
        """Deactivate; prove it with AWS refusing the old key; then delete. Each call looks
        at the key's state first, so a repeat goes on where the last one stopped. An inactive
        key AWS still accepts (IAM is eventually consistent) is not deleted yet: the step is
        retried. Returns what was verified, for the journal."""
        if identifier == self.admin_key_id:
            raise TargetRefused(f"refusing to revoke {identifier}: keyreaper itself uses it")
        user = self.user_of(credential)
        status = _status(self._keys(user), identifier)
        if status is None:
            self._untag_key(user, identifier)
            return f"{identifier} was already deleted"
        if status == "Active":
            self._call(
                "update_access_key", UserName=user, AccessKeyId=identifier, Status="Inactive"
            )
        proof = "deactivated; deactivation not probed"
        if old is not None and self.prove_deactivation:
            p = self.probe(credential, identifier, old)
            if p.liveness is Liveness.LIVE:
                raise TargetUnavailable(
                    f"{identifier} is inactive but AWS still accepts it; deleting it waits for "
                    f"AWS's refusal ({p.evidence})"
                )
            if not p.auth_refused:
                raise TargetUnavailable(f"deactivation probe inconclusive: {p.evidence}")
            proof = f"deactivated; the inactive key was refused ({p.evidence})"
        self._delete_key(user, identifier, "Inactive")
        return f"{proof}; deleted"

    def _delete_key(self, user: str, key_id: str, status: str | None) -> None:
        try:
            if status == "Active":
                self._call(
                    "update_access_key", UserName=user, AccessKeyId=key_id, Status="Inactive"
                )
            if status is not None:
                self._call("delete_access_key", UserName=user, AccessKeyId=key_id)
        except AwsRefused as exc:
            if exc.code != "NoSuchEntity":  # deleted meanwhile: the goal is reached
                raise
        self._untag_key(user, key_id)

    def _untag_key(self, user: str, key_id: str) -> None:
        """Drop the key's tag and any pending tag that no longer points at a key."""
        ids = [k["AccessKeyId"] for k in self._keys(user)]
        stale = aws_tags.stale(self._tags(user), ids, key_id)
        if stale:
            self._call("untag_user", UserName=user, TagKeys=stale)

    # -- sessions ---------------------------------------------------------------------------

    def revoke_sessions(self, credential: Credential) -> int:
        """Deny every temporary credential the user obtained before now.

        Deleting a key does not end sessions it already made with sts:GetSessionToken or
        GetFederationToken. An inline user policy denying all actions when aws:TokenIssueTime
        is before now ends them; long-term keys carry no token issue time and are unaffected.
        A cutoff set within `session_reuse_seconds` is kept, so a repeat does not move it.
        Returns 1 when a cutoff was set, 0 when a recent one was already in place."""
        user = self.user_of(credential)
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            got = self._call("get_user_policy", UserName=user, PolicyName=SESSION_POLICY)
            document = got["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(document)
            cutoff = document["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
            if now - datetime.fromisoformat(cutoff) < self.session_reuse:
                return 0
        except AwsRefused as exc:
            if exc.code != "NoSuchEntity":
                raise
        self._call(
            "put_user_policy",
            UserName=user,
            PolicyName=SESSION_POLICY,
            PolicyDocument=json.dumps(session_deny_policy(now)),
        )
        return 1


def _status(keys: list[dict[str, Any]], key_id: str) -> str | None:
    """The key's Status ("Active", "Inactive") in a ListAccessKeys answer; None if absent."""
    return next((str(k["Status"]) for k in keys if k["AccessKeyId"] == key_id), None)


def session_deny_policy(cutoff: datetime) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "DateLessThan": {
                        "aws:TokenIssueTime": cutoff.isoformat().replace("+00:00", "Z")
                    }
                },
            }
        ],
    }
