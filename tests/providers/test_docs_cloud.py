"""docs/providers-cloud.md names every kind and every option of the cloud providers/sink."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from keyreaper.providers import PROVIDERS
from keyreaper.providers.aws import AwsIamProvider
from keyreaper.providers.okta import OktaProvider
from keyreaper.sinks import SINKS
from keyreaper.sinks.aws_secrets import AwsSecretsManagerSink

DOC = (Path(__file__).resolve().parents[2] / "docs" / "providers-cloud.md").read_text()
CLASSES = [AwsIamProvider, OktaProvider, AwsSecretsManagerSink]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_option_is_documented(cls: type) -> None:
    options = [p for p in inspect.signature(cls).parameters]
    internal = {"transport", "sleep"}  # test seams, not user options
    missing = [p for p in options if p not in internal and f"{p}=" not in DOC and p not in DOC]
    assert not missing, f"{cls.__name__} options missing from the docs: {missing}"


def test_registries_and_kinds_are_documented() -> None:
    assert PROVIDERS["aws"].endswith(":AwsIamProvider")
    assert PROVIDERS["okta"].endswith(":OktaProvider")
    assert SINKS["aws_secrets"].endswith(":AwsSecretsManagerSink")
    for cls in (AwsIamProvider, OktaProvider):
        assert f"`{cls.name}`" in DOC
        assert set(cls.creates) == set(cls.kinds)
        assert set(cls.creates.values()) <= {"api", "manual", "never"}
        for kind in cls.kinds:
            assert f"`{kind}`" in DOC
