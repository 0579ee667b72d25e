from tests.servers.cloud_fixtures import moto_server, okta

__all__ = ["moto_server", "okta"]
