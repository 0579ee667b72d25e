from tests.servers.cloud_fixtures import moto_server

__all__ = ["moto_server"]
