"""moto's server on a free loopback port with its IAM authentication checks switched on.

moto skips authentication for the first INITIAL_NO_AUTH_ACTION_COUNT actions and checks
every request after that (moto docs, "IAM-like Access Control"). We let exactly the three
bootstrap actions through unauthenticated (CreateUser, PutUserPolicy, CreateAccessKey for an
admin), then every request must be signed by a key that exists: a deleted key really fails.
moto itself accepts an *inactive* key (AWS refuses it), so the server runs through
moto_strict.py, which adds exactly that refusal; startup checks both refusals are in force.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from tests.servers.common import free_port, wait_for_port

BOOTSTRAP_ACTIONS = 3
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass
class MotoServer:
    port: int
    process: subprocess.Popen[bytes]
    admin_key_id: str = ""
    admin_secret: str = ""
    region: str = "us-east-1"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, service: str, key_id: str | None = None, secret: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=key_id or self.admin_key_id,
            aws_secret_access_key=secret or self.admin_secret,
            config=Config(retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_moto() -> MotoServer:
    port = free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(BOOTSTRAP_ACTIONS))
    # Fake credentials for the unauthenticated bootstrap; never real ones from the host.
    env.pop("AWS_PROFILE", None)
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("moto_strict.py")),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = MotoServer(port, process)
    try:
        wait_for_port(port)
        boot = server.client("iam", "AKIABOOTSTRAP0000000", "bootstrap")
        admin = f"kr-admin-{uuid.uuid4().hex[:8]}"
        boot.create_user(UserName=admin)
        boot.put_user_policy(
            UserName=admin, PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY)
        )
        key = boot.create_access_key(UserName=admin)["AccessKey"]
        server.admin_key_id, server.admin_secret = key["AccessKeyId"], key["SecretAccessKey"]
        _check_auth_is_on(server)
    except BaseException:
        server.stop()
        raise
    return server


def _check_auth_is_on(server: MotoServer) -> None:
    """Fail loudly if moto would accept an unknown or an inactive key: the tests would then
    prove nothing."""
    server.client("sts").get_caller_identity()
    if _accepted(server.client("sts", "AKIANOSUCHKEY0000000", "wrong")):
        raise RuntimeError("moto accepted an unknown access key: authentication is off")
    iam = server.client("iam")
    user = f"kr-inactive-check-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    probe = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    if not _accepted(probe):
        raise RuntimeError("moto refused an active access key")
    iam.update_access_key(UserName=user, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    inactive_accepted = _accepted(probe)
    iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
    iam.delete_user(UserName=user)
    if inactive_accepted:
        raise RuntimeError("moto accepted an inactive access key: moto_strict.py is not in force")


def _accepted(sts: Any) -> bool:
    try:
        sts.get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] == "InvalidClientTokenId":
            return False
        raise
    return True


_shared: MotoServer | None = None


def shared_moto() -> MotoServer:
    """One moto server per test process, whichever test folder asks first; stopped at exit.
    Tests isolate themselves by unique IAM user and secret names."""
    global _shared
    if _shared is None or _shared.process.poll() is not None:
        _shared = start_moto()
        atexit.register(_shared.stop)
    return _shared
