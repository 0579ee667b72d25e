"""The sinks that talk to AWS use moto's server with authentication on."""

from tests.providers.conftest import moto_server

__all__ = ["moto_server"]
