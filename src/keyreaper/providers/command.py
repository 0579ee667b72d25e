"""Any system joins a campaign through the user's own commands (run without a shell).

Every command gets KR_CREDENTIAL_ID, KR_IDENTIFIER, KR_KIND, KR_TAG in its environment; a
secret is passed on stdin, never in argv.

  probe     secret on stdin; exit 0 = accepted, 3 = the target refused it, else unknown
  create    prints {"identifier": ..., "secret": ...} as JSON on stdout
  revoke    secret (if known) on stdin; exit 0 when revoked or already gone
  sessions  prints the number of sessions ended (optional)
  tagged    prints identifiers created under KR_TAG, one a line (optional)
  discard   removes KR_IDENTIFIER (optional, needed with `tagged`)
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator

from keyreaper.domain import KINDS, Credential, Liveness, Secret
from keyreaper.plugins import NewSecret, Probe
from keyreaper.providers.blockers import CreateBlocked, TargetRefused, TargetUnavailable

REFUSED_EXIT = 3


class CommandProvider:
    name = "command"
    kinds = KINDS

    def __init__(
        self,
        *,
        probe: str,
        revoke: str,
        create: str | None = None,
        sessions: str | None = None,
        tagged: str | None = None,
        discard: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.commands = {
            "probe": probe, "revoke": revoke, "create": create, "sessions": sessions,
            "tagged": tagged, "discard": discard,
        }  # fmt: skip
        self.timeout = timeout

    def _run(self, which: str, credential: Credential, identifier: str, secret: Secret | None = None,
             tag: str = "") -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        command = self.commands[which]
        assert command is not None
        env = {**os.environ, "KR_CREDENTIAL_ID": credential.id, "KR_IDENTIFIER": identifier,
               "KR_KIND": credential.kind, "KR_TAG": tag}  # fmt: skip
        data = secret.reveal().encode("utf-8", "surrogateescape") if secret is not None else b""
        try:
            return subprocess.run(
                shlex.split(command), input=data, env=env, capture_output=True,
                timeout=self.timeout, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise TargetUnavailable(f"{which} command timed out after {self.timeout}s") from None
        except OSError as exc:
            raise TargetRefused(f"{which} command cannot run: {exc.strerror}") from None

    def _check(self, which: str, proc: subprocess.CompletedProcess[bytes]) -> str:
        if proc.returncode != 0:
            # Never show its output: it may echo the secret it was given.
            raise TargetUnavailable(f"{which} command exited {proc.returncode}")
        return proc.stdout.decode(errors="replace")

    def inventory(self) -> Iterator[Credential]:
        return iter(())  # the command provider acts on credentials imported from files

    def probe(self, credential: Credential, identifier: str, secret: Secret) -> Probe:
        proc = self._run("probe", credential, identifier, secret)
        if proc.returncode == 0:
            return Probe(Liveness.LIVE, "probe command: accepted")
        if proc.returncode == REFUSED_EXIT:
            return Probe(Liveness.DEAD, "probe command: the target refused it", auth_refused=True)
        return Probe(Liveness.UNKNOWN, f"probe command exited {proc.returncode}")

    def create(self, credential: Credential, tag: str) -> NewSecret:
        if not self.commands["create"]:
            raise CreateBlocked("the command provider has no create command: revoke only")
        out = self._check(
            "create", self._run("create", credential, credential.identifiers[0], tag=tag)
        )
        try:
            body = json.loads(out)
            return NewSecret(str(body["identifier"]), Secret(str(body["secret"])), tag)
        except (ValueError, KeyError, TypeError):
            raise TargetRefused(
                'create command must print {"identifier": ..., "secret": ...}'
            ) from None

    def created_by_us(self, credential: Credential, tag: str) -> list[str]:
        if not self.commands["tagged"]:
            return []
        out = self._check(
            "tagged", self._run("tagged", credential, credential.identifiers[0], tag=tag)
        )
        return [line.strip() for line in out.splitlines() if line.strip()]

    def discard(self, credential: Credential, identifier: str) -> None:
        if self.commands["discard"]:
            self._check("discard", self._run("discard", credential, identifier))

    def revoke(self, credential: Credential, identifier: str, old: Secret | None) -> None:
        self._check("revoke", self._run("revoke", credential, identifier, old))

    def revoke_sessions(self, credential: Credential) -> int:
        if not self.commands["sessions"]:
            return 0
        out = self._check("sessions", self._run("sessions", credential, credential.identifiers[0]))
        try:
            return int(out.strip() or 0)
        except ValueError:
            return 0
