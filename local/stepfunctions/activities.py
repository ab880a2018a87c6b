"""Activities: CreateActivity, DescribeActivity, DeleteActivity, ListActivities and the
GetActivityTask long poll. What a Task state does with an activity is in
states/activity_task.py; a worker answers with SendTask* on the task-token path.

A poll waits on its activity's condition, woken when a task of that activity is scheduled
(after the scheduling commits), never by sleeping and looking again. It waits in the API
caller's thread (the HTTP server's pool), not in one of the scheduler's step workers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from . import arns, tags
from .clock import Clock
from .engine import Engine
from .errors import ApiError
from .states.activity_task import hand_out
from .store import Store

# GetActivityTask: "The maximum time the service holds on to the request before responding is
# 60 seconds."
POLL_SECONDS = 60.0
# Each waiting poll holds a thread of the HTTP server's pool (anyio's default is 40 threads for
# every request): beyond this many, a poll is refused so that the other calls keep a thread.
MAX_CONCURRENT_POLLS = 20
# Step Functions quotas, "Maximum number of registered activities".
MAX_ACTIVITIES = 100_000
MAX_WORKER_NAME = 80

_ENCRYPTION_TYPES = ("AWS_OWNED_KEY", "CUSTOMER_MANAGED_KMS_KEY")


class ActivityPolls:
    """A condition per activity, with a count of the tasks scheduled on it, and the number of
    polls waiting. The count closes the race between looking for a task and starting to wait:
    a poll waits only while the count is the one it saw before it looked."""

    def __init__(self, limit: int = MAX_CONCURRENT_POLLS) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._conditions: dict[str, threading.Condition] = {}
        self._scheduled: dict[str, int] = {}
        self._polling = 0
        self.stopping = False

    def _condition(self, activity_arn: str) -> threading.Condition:
        with self._lock:
            cond = self._conditions.get(activity_arn)
            if cond is None:
                cond = self._conditions[activity_arn] = threading.Condition()
            return cond

    def scheduled(self, activity_arn: str) -> None:
        """A task of the activity was scheduled: wake its polls."""
        cond = self._condition(activity_arn)
        with cond:
            self._scheduled[activity_arn] = self._scheduled.get(activity_arn, 0) + 1
            cond.notify_all()

    def seen(self, activity_arn: str) -> int:
        with self._condition(activity_arn):
            return self._scheduled.get(activity_arn, 0)

    def wait(self, activity_arn: str, seen: int, timeout: float) -> None:
        cond = self._condition(activity_arn)
        with cond:
            cond.wait_for(
                lambda: self.stopping or self._scheduled.get(activity_arn, 0) != seen, timeout
            )

    def enter(self) -> bool:
        with self._lock:
            if self._polling >= self.limit:
                return False
            self._polling += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self._polling -= 1

    def stop(self) -> None:
        """Answer every waiting poll now (empty), so a shutdown does not wait for them."""
        self.stopping = True
        with self._lock:
            conditions = list(self._conditions.values())
        for cond in conditions:
            with cond:
                cond.notify_all()


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", f"1 validation error detected: {message}")


def _check_encryption(config: object) -> str | None:
    """The stored form of `encryptionConfiguration` (JSON), None when not given."""
    if config is None:
        return None
    if not isinstance(config, dict) or config.get("type") not in _ENCRYPTION_TYPES:
        raise ApiError(
            "InvalidEncryptionConfiguration",
            f"Invalid encryptionConfiguration: type must be one of {', '.join(_ENCRYPTION_TYPES)}",
        )
    if config["type"] == "CUSTOMER_MANAGED_KMS_KEY" and not config.get("kmsKeyId"):
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "Invalid encryptionConfiguration: kmsKeyId is required for CUSTOMER_MANAGED_KMS_KEY",
        )
    period = config.get("kmsDataKeyReusePeriodSeconds")
    if period is not None and (not isinstance(period, int) or not 60 <= period <= 900):
        raise ApiError(
            "InvalidEncryptionConfiguration",
            "Invalid encryptionConfiguration: kmsDataKeyReusePeriodSeconds must be between 60 "
            "and 900",
        )
    return json.dumps(config, sort_keys=True)


class Activities:
    def __init__(
        self,
        store: Store,
        engine: Engine,
        clock: Clock,
        region: str,
        account_id: str,
        polls: ActivityPolls,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.store = store
        self.engine = engine
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.polls = polls
        self.poll_seconds = poll_seconds

    def existing(self, conn: Any, arn: object) -> Any:
        """The activity's row; InvalidArn for another ARN, ActivityDoesNotExist if unknown."""
        arns.parse_activity_arn(arn)
        row = self.store.activity(conn, arn)
        if row is None:
            raise ApiError("ActivityDoesNotExist", f"Activity Does Not Exist: '{arn}'")
        return row

    def create(self, req: dict[str, Any]) -> dict[str, Any]:
        name = arns.check_name(_require(req, "name"))
        encryption = _check_encryption(req.get("encryptionConfiguration"))
        arn = arns.activity_arn(self.region, self.account_id, name)
        initial_tags = tags.check_tags(req.get("tags") or [])
        tags.check_count(arn, initial_tags)
        with self.store.tx() as conn:
            row = self.store.activity(conn, arn)
            if row is not None:
                # AWS: idempotent on the name; other tags are ignored (and not applied), but
                # the encryption configuration may not change.
                if row["encryption"] != encryption:
                    raise ApiError(
                        "ActivityAlreadyExists",
                        f"Activity already exists with another encryptionConfiguration: '{arn}'",
                    )
                return {"activityArn": arn, "creationDate": row["created"]}
            if self.store.count_activities(conn) >= MAX_ACTIVITIES:
                raise ApiError(
                    "ActivityLimitExceeded",
                    f"The maximum of {MAX_ACTIVITIES} activities has been reached",
                )
            now = self.clock.now()
            self.store.insert_activity(conn, arn, name, now, encryption)
            self.store.put_tags(conn, arn, initial_tags)
        return {"activityArn": arn, "creationDate": now}

    def describe(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self.existing(conn, _require(req, "activityArn"))
        out = {"activityArn": row["arn"], "name": row["name"], "creationDate": row["created"]}
        if row["encryption"] is not None:
            out["encryptionConfiguration"] = json.loads(row["encryption"])
        return out

    def delete(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "activityArn")
        arns.parse_activity_arn(arn)
        with self.store.tx() as conn:
            self.store.delete_activity(conn, arn)
        return {}

    def list(self, limit: int, offset: int) -> tuple[list[Any], bool]:
        """One page of activities, by name, and whether more follow."""
        with self.store.read() as conn:
            rows = self.store.list_activities(conn, limit + 1, offset)
        items = [
            {"activityArn": r["arn"], "name": r["name"], "creationDate": r["created"]}
            for r in rows[:limit]
        ]
        return items, len(rows) > limit

    def get_task(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "activityArn")
        worker = req.get("workerName")
        if worker is not None and (
            not isinstance(worker, str) or not 1 <= len(worker) <= MAX_WORKER_NAME
        ):
            raise _validation(
                "Value at 'workerName' failed to satisfy constraint: Member must have length "
                f"between 1 and {MAX_WORKER_NAME}"
            )
        with self.store.read() as conn:
            self.existing(conn, arn)
        if not self.polls.enter():
            raise ApiError(
                "ActivityWorkerLimitExceeded",
                f"The maximum of {self.polls.limit} workers concurrently polling for activity "
                "tasks has been reached",
            )
        try:
            deadline = time.monotonic() + self.poll_seconds
            while True:
                seen = self.polls.seen(arn)
                task = hand_out(self.engine, arn, worker)
                if task is not None:
                    return {"taskToken": task[0], "input": task[1]}
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.polls.stopping:
                    return {}
                self.polls.wait(arn, seen, remaining)
        finally:
            self.polls.leave()


def _require(req: dict[str, Any], key: str) -> Any:
    if req.get(key) is None:
        raise ApiError("MissingRequiredParameter", f"Missing required parameter: {key}")
    return req[key]
