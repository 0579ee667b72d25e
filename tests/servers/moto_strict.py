"""moto's server plus one rule of AWS that moto lacks: an inactive access key is refused.

AWS refuses a request signed with an inactive key exactly like one signed with an unknown key
(`InvalidClientTokenId`, "The security token included in the request is invalid"). moto 5.2.5
(the latest release) checks only that the key exists (`IAMUserAccessKey` in
moto/iam/access_control.py ignores `Status`), so a deactivated key still works there and a
test could never see deactivation take effect. This launcher adds that one check and changes
nothing else. Run as a script: `python moto_strict.py -H 127.0.0.1 -p PORT`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# Run as a script, this folder comes first on sys.path, and its moto.py would shadow moto.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from moto.iam import access_control  # noqa: E402

_original_init = access_control.IAMUserAccessKey.__init__


def _refuse_inactive(self: Any, account_id: str, partition: str, access_key_id: str,
                     headers: dict[str, str]) -> None:  # fmt: skip
    _original_init(self, account_id, partition, access_key_id, headers)
    for user in self.backend.list_users("/", None, None):
        for key in user.access_keys:
            if key.access_key_id == access_key_id and key.status != "Active":
                raise access_control.CreateAccessKeyFailure(reason="InvalidId")


access_control.IAMUserAccessKey.__init__ = _refuse_inactive  # type: ignore[method-assign]

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
