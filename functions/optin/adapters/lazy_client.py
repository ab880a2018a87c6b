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

# Every call must give up well inside the function's 10 s Timeout (template.yaml Globals),
# so a slow service surfaces as a classified error the state machine retries, never as a
# Lambda timeout in the middle of a use case. Worst case per call: 3 attempts of
# (1 s connect + 2 s read) plus standard-mode backoff, about 9.5 s; most calls answer in ms.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
MAX_ATTEMPTS = 3


def client_config(max_attempts: int = MAX_ATTEMPTS) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
    )


def session_client(service: str, *, max_attempts: int = MAX_ATTEMPTS) -> Callable[[], Any]:
    """max_attempts=1 for calls that must not be repeated blindly: the SDK retries a read
    timeout by sending the request again, and a text whose answer was lost may have left."""

    def factory() -> Any:
        import boto3

        return boto3.session.Session().client(service, config=client_config(max_attempts))

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
