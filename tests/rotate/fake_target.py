"""A target for the command provider in tests: the user's own commands, acting on a JSON
state file under a lock. Usage: fake_target.py STATE (probe|create|revoke|tagged|discard)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sys


def main() -> int:
    path, op = sys.argv[1], sys.argv[2]
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(path) as fh:
            state = json.load(fh)
        state.setdefault("calls", []).append(op)
        code = run(state, op)
        with open(path + ".tmp", "w") as fh:
            json.dump(state, fh)
        os.replace(path + ".tmp", path)
    return code


def run(state: dict, op: str) -> int:  # type: ignore[type-arg]
    keys = state["keys"]
    ident = os.environ["KR_IDENTIFIER"]
    if state.get("unreachable") or (op == "probe" and state.get("unreachable_probes")):
        return 2
    if op == "probe":
        given = sys.stdin.read()
        key = keys.get(ident)
        return 0 if key and key["active"] and key["secret"] == given else 3
    if op == "create":
        new_id = f"key-{secrets.token_hex(4)}"
        keys[new_id] = {
            "secret": secrets.token_urlsafe(24),
            "tag": os.environ["KR_TAG"],
            "active": True,
        }
        print(json.dumps({"identifier": new_id, "secret": keys[new_id]["secret"]}))
        return 0
    if op in ("revoke", "discard"):
        if ident in keys:
            keys[ident]["active"] = False
        if op == "revoke" and state.get("unreachable_after_revoke"):
            state["unreachable_probes"] = True
        return 0
    if op == "tagged":
        for k, v in keys.items():
            if v["tag"] == os.environ["KR_TAG"] and v["active"]:
                print(k)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
