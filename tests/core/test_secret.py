"""Secret never leaves the process by accident; fingerprints are keyed, versioned, hinted."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyreaper.domain import Secret
from keyreaper.domain.redact import RedactingFilter
from keyreaper.fingerprint import Fingerprinter, KeyRing, hint, normalize

VALUE = "ghp_canaryCANARYcanary0123456789abcdefXYZ"


def test_secret_cannot_be_printed_or_serialized() -> None:
    s = Secret(VALUE)
    for text in (repr(s), str(s), f"{s}", f"{s!r}", "%s" % s, format(s, ">10")):  # noqa: UP031
        assert VALUE not in text
    with pytest.raises(TypeError):
        pickle.dumps(s)
    with pytest.raises(TypeError):
        json.dumps({"s": s})
    with pytest.raises(TypeError):
        hash(s)
    with pytest.raises(AttributeError):
        s.x = 1  # type: ignore[attr-defined]
    assert copy.deepcopy(s).reveal() == VALUE
    assert Secret(VALUE) == s and Secret("other") != s


def test_logging_filter_redacts_live_secret(caplog: pytest.LogCaptureFixture) -> None:
    s = Secret(VALUE)
    logger = logging.getLogger("keyreaper.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="keyreaper.test"):
        logger.info("oops %s", s.reveal())
    assert VALUE not in caplog.text
    assert "[REDACTED]" in caplog.text


def test_live_secret_table_forgets_dead_secrets_and_stays_bounded() -> None:
    import gc

    from keyreaper.domain import secret as secret_module

    kept = [Secret(f"kept-canary-{i:04d}-value") for i in range(50)]
    for i in range(20_000):  # bulk-import churn: each secret dies right after its HMAC
        Secret(f"gone-canary-{i:05d}-value")
    gc.collect()
    values = set(secret_module.live_values())
    assert {s.reveal() for s in kept} <= values
    assert not any(v.startswith("gone-canary-") for v in values)
    assert len(secret_module._live) < 5_000  # pruned, not one entry per secret ever made


def test_fingerprint_is_keyed_not_a_bare_hash() -> None:
    a = Fingerprinter(KeyRing.generate())
    b = Fingerprinter(KeyRing.generate())
    fa = a.fingerprint(Secret(VALUE))
    assert fa != b.fingerprint(Secret(VALUE))
    assert fa.value not in {
        hashlib.sha256(VALUE.encode()).hexdigest(),
        hashlib.sha1(VALUE.encode()).hexdigest(),
    }
    assert fa.key_version == 1
    assert fa.hint == "ghp_…fXYZ"
    assert a.fingerprint(Secret(f"  '{VALUE}'\n")) == fa  # normalized


def test_key_rotation_keeps_old_versions_matchable() -> None:
    ring = KeyRing.generate()
    old = Fingerprinter(ring).fingerprint(Secret(VALUE))
    new_fp = Fingerprinter(ring.rotated())
    versions = new_fp.all_versions(Secret(VALUE))
    assert [f.key_version for f in versions] == [1, 2]
    assert versions[0] == old
    assert new_fp.fingerprint(Secret(VALUE)).key_version == 2


def test_short_secret_hint_hides_characters() -> None:
    assert hint("hunter2") == "…(7 chars)"
    assert "ter2" not in hint("hunter2")


@given(st.text(min_size=1, max_size=200))
def test_hint_never_reveals_more_than_four_trailing_chars(value: str) -> None:
    h = hint(value)
    norm = normalize(value)
    if len(norm) >= 16:
        assert norm not in h
        assert len(h) <= 18
