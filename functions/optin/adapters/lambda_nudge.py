"""Nudges the webhook dispatcher: an asynchronous Lambda Invoke (InvocationType=Event).

One attempt, short timeouts: it runs inside a save's request, and a nudge that fails costs
only latency to the delivery (the dispatcher's schedule sweeps every minute)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from optin.adapters.lazy_client import LazyClient, session_client

default_client_factory = session_client("lambda", max_attempts=1)

NUDGE_EVENT = {"source": "optin.webhooks", "detail-type": "Deliveries waiting"}


class LambdaNudge:
    def __init__(
        self, function_name: str, client_factory: Callable[[], Any] = default_client_factory
    ) -> None:
        self._function = function_name
        self._client = LazyClient(client_factory)

    def nudge(self) -> None:
        self._client().invoke(
            FunctionName=self._function,
            InvocationType="Event",
            Payload=json.dumps(NUDGE_EVENT).encode(),
        )
