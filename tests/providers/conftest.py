from tests.servers.cloud_fixtures import moto_server, okta
from tests.servers.fixtures import redis_server, sshd_server

__all__ = ["moto_server", "okta", "redis_server", "sshd_server"]
