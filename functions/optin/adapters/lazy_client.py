"""A boto3 client made on first use rather than when the adapter is built.

Building dependencies stays cheap for functions that never call the service, and boto3 reads
the environment (AWS_ENDPOINT_URL_*, which the local runtime sets per invocation) of the call
that first needs it. Each client gets a session of its own: the default session caches
credentials and configuration from the first environment it saw.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def session_client(service: str) -> Callable[[], Any]:
    def factory() -> Any:
        import boto3

        return boto3.session.Session().client(service)

    return factory


class LazyClient:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory()
            return self._client
