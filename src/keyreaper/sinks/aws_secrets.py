"""AWS Secrets Manager sink: a new secret goes into a secret's new version, nowhere else.

Delivery is idempotent: the ClientRequestToken (which becomes the version id) is derived from
the credential, the new identifier and the campaign tag, never from the value, so a repeated
delivery after a crash returns the same version instead of stacking new ones.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from keyreaper.domain import Credential, Secret
from keyreaper.extras import require
from keyreaper.plugins import NewSecret
from keyreaper.providers.aws import quiet_sdk_logs
from keyreaper.providers.blockers import TargetUnavailable

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9/_+=.@-]")
_TOKEN_NS = uuid.UUID("6f1d3a52-5c1e-4b7a-9d0e-6b2a7c1f4e90")
VALUE_FORMATS = ("json", "raw")
DEFAULT_NAME = "keyreaper/{provider}/{kind}/{identifier}"


class AwsSecretsManagerSink:
    """Writes `{"id": <identifier>, "secret": <value>}` (or the bare value) as AWSCURRENT.

    `secret_name` is a template over the credential: {provider}, {kind}, {identifier}, {id}, {name};
    a credential may name its own target with extra["aws_secret_id"]."""

    name = "aws_secrets"

    def __init__(
        self,
        *,
        secret_name: str = DEFAULT_NAME,
        region: str = "us-east-1",
        endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: Secret | None = None,
        profile: str | None = None,
        value_format: str = "json",
        kms_key_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if value_format not in VALUE_FORMATS:
            raise ValueError(f"value_format must be one of {', '.join(VALUE_FORMATS)}")
        boto3 = require("boto3", "aws")
        quiet_sdk_logs()  # the secret value is in PutSecretValue's request body
        config = require("botocore.config", "aws").Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        )
        self._errors = require("botocore.exceptions", "aws")
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key.reveal() if secret_access_key else None,
            profile_name=profile,
            region_name=region,
        )
        self._client: Any = session.client(
            "secretsmanager", endpoint_url=endpoint_url, config=config
        )
        self.template = secret_name
        self.value_format = value_format
        self.kms_key_id = kms_key_id

    def secret_name(self, credential: Credential) -> str:
        given = credential.extra.get("aws_secret_id")
        if given:
            return str(given)
        text = self.template.format(
            provider=credential.provider,
            kind=credential.kind,
            identifier=credential.identifiers[0],
            id=credential.id,
            name=credential.name or credential.identifiers[0],
        )
        return _NAME_UNSAFE.sub("-", text)[:512]

    def _value(self, new: NewSecret) -> str:
        if self.value_format == "raw":
            return new.secret.reveal()
        return json.dumps({"id": new.identifier, "secret": new.secret.reveal()})

    def deliver(self, credential: Credential, new: NewSecret) -> str:
        secret_id = self.secret_name(credential)
        token = str(uuid.uuid5(_TOKEN_NS, f"{credential.id}\0{new.identifier}\0{new.tag}"))
        try:
            got = self._put(secret_id, credential, new, token)
        except self._errors.ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = exc.response.get("Error", {}).get("Code", "")
            if status >= 500 or code in {"ThrottlingException", "InternalServiceError"}:
                raise TargetUnavailable(f"secretsmanager: {code} (HTTP {status})") from exc
            raise
        except self._errors.BotoCoreError as exc:
            raise TargetUnavailable(f"secretsmanager: {type(exc).__name__}") from exc
        return f"{got['ARN']} version {got['VersionId']}"

    def _put(self, secret_id: str, credential: Credential, new: NewSecret, token: str) -> Any:
        try:
            described = self._client.describe_secret(SecretId=secret_id)
            if described.get("DeletedDate"):
                # Scheduled for deletion: a new version would be refused; bring it back.
                self._client.restore_secret(SecretId=secret_id)
        except self._errors.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
            params: dict[str, Any] = {
                "Name": secret_id,
                "SecretString": self._value(new),
                "ClientRequestToken": token,
                "Description": f"keyreaper: {credential.id}",
                "Tags": [{"Key": "keyreaper:credential", "Value": credential.id[:256]}],
            }
            if self.kms_key_id:
                params["KmsKeyId"] = self.kms_key_id
            try:
                return self._client.create_secret(**params)
            except self._errors.ClientError as again:
                # Created by a concurrent or interrupted delivery: fall through to a put.
                if again.response.get("Error", {}).get("Code") != "ResourceExistsException":
                    raise
        return self._client.put_secret_value(
            SecretId=secret_id,
            SecretString=self._value(new),
            ClientRequestToken=token,
            VersionStages=["AWSCURRENT"],
        )
