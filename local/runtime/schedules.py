"""The template's `Schedule` events (EventBridge rules), run locally: one thread invokes each
scheduled function every period with an event shaped as EventBridge's "Scheduled Event".

EventBridge invokes a rule's target asynchronously: a slow run does not hold the next one
back, and runs may overlap (the handlers must allow that, as on AWS). The first run comes one
period after start, as a new rule's does. A schedule is not durable state: a runtime that was
down misses the runs it would have made, as a disabled rule does; the next one catches up.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local.runtime.template import ACCOUNT_ID, REGION, Schedule

log = logging.getLogger("local.schedules")


def scheduled_event(schedule: Schedule, now: datetime) -> dict[str, Any]:
    """What EventBridge sends a Lambda target for a scheduled rule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class Scheduler:
    def __init__(
        self,
        schedules: list[Schedule],
        invoke: Callable[[str, Any], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._schedules = list(schedules)
        self._invoke = invoke
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self._schedules or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="schedules", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        started = self._clock()
        due = {index: started + s.rate_seconds for index, s in enumerate(self._schedules)}
        while not self._stop.is_set():
            now = self._clock()
            for index, schedule in enumerate(self._schedules):
                if due[index] <= now:
                    # The next run keeps the grid (start + k × period), as a rule does.
                    while due[index] <= now:
                        due[index] += schedule.rate_seconds
                    self._fire(schedule)
            self._stop.wait(max(0.0, min(due.values()) - self._clock()))

    def _fire(self, schedule: Schedule) -> None:
        event = scheduled_event(schedule, datetime.now(UTC))
        threading.Thread(
            target=self._invoke_quietly,
            args=(schedule, event),
            name=f"schedule-{schedule.function_id}",
            daemon=True,
        ).start()

    def _invoke_quietly(self, schedule: Schedule, event: dict[str, Any]) -> None:
        try:
            self._invoke(schedule.function_id, event)
        except Exception as error:  # a failed run is logged; the next one comes anyway
            log.error(
                "scheduled invocation of %s (%s) failed: %s",
                schedule.function_id,
                schedule.expression,
                error,
            )
