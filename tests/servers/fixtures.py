"""Session-scoped throwaway Redis and sshd servers; import these fixtures in a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers.redis import RedisServer, start_redis
from tests.servers.sshd import SshdServer, start_sshd


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sshd_server() -> Iterator[SshdServer]:
    server = start_sshd()
    try:
        yield server
    finally:
        server.stop()
