from tests.servers.fixtures import redis_server, sshd_server

__all__ = ["redis_server", "sshd_server"]
