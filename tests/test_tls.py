import ssl

import httpx2
import openai

from conflicts.providers.registry import client_options
from conflicts.providers.tls import build_aside, shared_context


def test_the_shared_context_verifies_as_the_sdk_default_does() -> None:
    build_aside()
    context = shared_context()
    assert context is shared_context()  # built once, for every client
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    default = httpx2.create_ssl_context()
    assert context.cert_store_stats() == default.cert_store_stats()
    assert context.cert_store_stats()["x509_ca"] > 0


def test_sdk_clients_are_given_the_shared_context() -> None:
    transport = client_options({}, "sk-test", openai)["http_client"]._transport
    assert transport.ssl_context is shared_context()
