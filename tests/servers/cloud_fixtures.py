"""moto's server (auth on, one per process) and a fresh local Okta org per test; import these
fixtures in a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.moto import MotoServer, shared_moto
from tests.servers.okta import FakeOkta


@pytest.fixture(scope="session")
def moto_server() -> MotoServer:
    return shared_moto()


@pytest.fixture
def okta() -> Iterator[FakeOkta]:
    fake = FakeOkta()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
