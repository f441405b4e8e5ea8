"""The TLS context the SDKs' aiohttp transport would build for every client, built once, on a
thread started before the SDK is imported.

Building it reads the system's certificate authorities (30 ms here, before the first request),
work OpenSSL does without holding the GIL: on its own thread it overlaps the SDK's import. Clients
share the one context, as aiohttp's own default context is shared.
"""

from __future__ import annotations

import ssl
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache


@cache
def _building() -> Future[ssl.SSLContext]:
    pool = ThreadPoolExecutor(1, thread_name_prefix="tls-context")
    building = pool.submit(_default_context)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return building


def _default_context() -> ssl.SSLContext:
    import httpx2  # both SDKs' HTTP layer: its defaults are the transport's defaults

    return httpx2.create_ssl_context()


def build_aside() -> None:
    """Start building the context, if not already started."""
    _building()


def shared_context() -> ssl.SSLContext:
    """The context, waiting for it if it is still being built (or building it now)."""
    return _building().result()
