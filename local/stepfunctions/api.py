"""The Step Functions JSON protocol: X-Amz-Target dispatch and AWS-shaped errors."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from .errors import ApiError
from .service import StepFunctionsService

log = logging.getLogger(__name__)

PREFIX = "AWSStepFunctions."

OPERATIONS: dict[str, str] = {
    "CreateStateMachine": "create_state_machine",
    "DescribeStateMachine": "describe_state_machine",
    "ListStateMachines": "list_state_machines",
    "UpdateStateMachine": "update_state_machine",
    "DeleteStateMachine": "delete_state_machine",
    "ValidateStateMachineDefinition": "validate_state_machine_definition",
    "StartExecution": "start_execution",
    "DescribeExecution": "describe_execution",
    "DescribeStateMachineForExecution": "describe_state_machine_for_execution",
    "ListExecutions": "list_executions",
    "GetExecutionHistory": "get_execution_history",
    "StopExecution": "stop_execution",
    "RedriveExecution": "redrive_execution",
    "SendTaskSuccess": "send_task_success",
    "SendTaskFailure": "send_task_failure",
    "SendTaskHeartbeat": "send_task_heartbeat",
    "PublishStateMachineVersion": "publish_state_machine_version",
    "ListStateMachineVersions": "list_state_machine_versions",
    "DeleteStateMachineVersion": "delete_state_machine_version",
    "CreateStateMachineAlias": "create_state_machine_alias",
    "DescribeStateMachineAlias": "describe_state_machine_alias",
    "UpdateStateMachineAlias": "update_state_machine_alias",
    "DeleteStateMachineAlias": "delete_state_machine_alias",
    "ListStateMachineAliases": "list_state_machine_aliases",
    "TagResource": "tag_resource",
    "UntagResource": "untag_resource",
    "ListTagsForResource": "list_tags_for_resource",
    "DescribeMapRun": "describe_map_run",
    "ListMapRuns": "list_map_runs",
    "UpdateMapRun": "update_map_run",
    "CreateActivity": "create_activity",
    "DescribeActivity": "describe_activity",
    "DeleteActivity": "delete_activity",
    "ListActivities": "list_activities",
    "GetActivityTask": "get_activity_task",
    "TestState": "test_state",
    "StartSyncExecution": "start_sync_execution",
}


def _error(
    type_name: str, message: str, status: int = 400, members: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    return status, {"__type": type_name, "message": message, **(members or {})}


def handle_request(
    svc: StepFunctionsService, target: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one request; never raises."""
    op = target[len(PREFIX) :] if isinstance(target, str) and target.startswith(PREFIX) else None
    method_name = OPERATIONS.get(op or "")
    if method_name is None:
        return _error("UnknownOperationException", f"Unknown operation {target!r}")
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return _error("SerializationException", "The request body is not valid JSON")
    if not isinstance(req, dict):
        return _error("SerializationException", "The request body must be a JSON object")
    method: Callable[[dict[str, Any]], dict[str, Any]] = getattr(svc, method_name)
    try:
        return 200, method(req)
    except ApiError as e:
        return _error(e.type_name, e.message, e.status, e.members)
    except Exception as e:
        log.exception("%s failed", op)
        return _error("InternalFailure", f"{type(e).__name__}: {e}", 500)
