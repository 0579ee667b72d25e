"""A command of the user's (no shell) that receives the new secret on stdin, never in argv;
KR_CREDENTIAL_ID, KR_IDENTIFIER and KR_NEW_IDENTIFIER are in its environment. The first
line of its stdout is the receipt."""

from __future__ import annotations

import os
import shlex
import subprocess

from keyreaper.domain import Credential
from keyreaper.errors import KeyreaperError
from keyreaper.plugins import NewSecret


class CommandSink:
    name = "command"

    def __init__(self, *, command: str, timeout: float = 60.0) -> None:
        self.argv = shlex.split(command)
        self.timeout = timeout

    def deliver(self, credential: Credential, new: NewSecret) -> str:
        env = {
            **os.environ,
            "KR_CREDENTIAL_ID": credential.id,
            "KR_IDENTIFIER": credential.identifiers[0],
            "KR_NEW_IDENTIFIER": new.identifier,
        }
        proc = subprocess.run(
            self.argv, input=new.secret.reveal().encode("utf-8", "surrogateescape"),
            env=env, capture_output=True, timeout=self.timeout, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            # Its stderr is not shown: it could echo what it was given.
            raise KeyreaperError(f"sink command {self.argv[0]} exited {proc.returncode}")
        first = proc.stdout.decode(errors="replace").strip().splitlines()
        return first[0][:200] if first else f"command:{self.argv[0]}"
