"""Which IAM access keys keyreaper created, told by tags on the owning IAM user.

IAM returns a new secret access key exactly once and an access key carries no tags, so what
we create is named in tags on the user:

  keyreaper:key:<AccessKeyId> = <campaign tag>       set right after CreateAccessKey
  keyreaper:pending:<digest>  = <key ids before>     set right before CreateAccessKey

The pending tag closes the crash window between CreateAccessKey and the key tag: on resume,
any key of the user that is not in the "before" list was created by us under that tag.
These functions only read and build tags; AwsIamProvider makes the calls.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

KEY_TAG = "keyreaper:key:"
PENDING_TAG = "keyreaper:pending:"
_TAG_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


def tag_value(tag: str) -> str:
    """IAM tag values allow letters, digits, spaces and _.:/=+-@ up to 256 characters."""
    return _TAG_UNSAFE.sub("_", tag)[:256]


def pending_key(tag: str) -> str:
    """The pending tag's key for a campaign tag (tag keys are short: a digest)."""
    return PENDING_TAG + hashlib.sha256(tag.encode()).hexdigest()[:32]


def pending_tag(tag: str, before: Iterable[str]) -> dict[str, str]:
    """Set before CreateAccessKey: the key ids the user had."""
    return {"Key": pending_key(tag), "Value": " ".join(sorted(before))}


def key_tag(key_id: str, tag: str) -> dict[str, str]:
    """Set right after CreateAccessKey: this key is ours, under this campaign tag."""
    return {"Key": KEY_TAG + key_id, "Value": tag_value(tag)}


def _made_under_pending(tags: Mapping[str, str], ids: set[str], pending: str) -> set[str]:
    """Keys that appeared after `pending` was set and carry no key tag yet."""
    before = set(tags[pending].split())
    return {i for i in ids if i not in before and KEY_TAG + i not in tags}


def ours(tags: Mapping[str, str], ids: Iterable[str], tag: str | None) -> list[str]:
    """Key ids among `ids` created by keyreaper (under `tag`, or under any tag when None)."""
    ids = set(ids)
    want = tag_value(tag) if tag is not None else None
    found = {
        key[len(KEY_TAG) :]
        for key, value in tags.items()
        if key.startswith(KEY_TAG) and (want is None or value == want)
    }
    if tag is not None:
        pending = [pending_key(tag)]
    else:
        pending = [k for k in tags if k.startswith(PENDING_TAG)]
    for key in pending:
        if key in tags:
            found |= _made_under_pending(tags, ids, key)
    return sorted(found & ids)


def stale(tags: Mapping[str, str], ids: Iterable[str], gone: str) -> list[str]:
    """Tag keys to drop once key `gone` is deleted: its key tag, and every pending tag that
    no longer points at a key."""
    ids = set(ids)
    out = [KEY_TAG + gone] if KEY_TAG + gone in tags else []
    out += [
        key
        for key in tags
        if key.startswith(PENDING_TAG) and not _made_under_pending(tags, ids, key)
    ]
    return out
