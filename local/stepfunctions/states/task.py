"""Task: Lambda integrations (`lambda:invoke`, its `.waitForTaskToken` form and a function
ARN as the resource), activities (states/activity_task.py), task tokens,
TimeoutSeconds/HeartbeatSeconds, and the answers of a mocked test case (MockConfigFile). The
call itself happens outside the step's transaction (engine.invoke); this module decides what
to call and records what came back."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from .. import arns, errors
from ..context import Step, compact_json
from ..errors import StatesError
from ..invoker import LambdaFunctionError, LambdaInvoker, LambdaServiceError
from ..mocks import MockedState
from . import activity_task

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
TOKEN_PREFIX = "AQB"


def make_token(exec_arn: str) -> str:
    raw = json.dumps({"e": exec_arn, "u": uuid.uuid4().hex}).encode()
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_well_formed(token: str) -> bool:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        return False
    body = token[len(TOKEN_PREFIX) :]
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return False
    return isinstance(data, dict) and "e" in data and "u" in data


def lambda_result(payload_value: Any) -> dict[str, Any]:
    """What arn:aws:states:::lambda:invoke returns around the handler's result."""
    request_id = str(uuid.uuid4())
    headers = {
        "Connection": "keep-alive",
        "Content-Type": "application/json",
        "X-Amz-Executed-Version": "$LATEST",
        "x-amzn-Remapped-Content-Length": "0",
        "x-amzn-RequestId": request_id,
    }
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload_value,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def lambda_target(resource: str, args: Any) -> tuple[str, Any, Any]:
    """(kind, function, payload) of a Task's call: "lambda" for `lambda:invoke` (its
    FunctionName and Payload arguments), "direct" for a function ARN as the resource (the
    arguments are the payload). Any other resource is not supported: States.Runtime."""
    if resource.startswith(LAMBDA_INVOKE):
        if not isinstance(args, dict) or "FunctionName" not in args:
            raise StatesError(
                errors.RUNTIME, "The field 'FunctionName' is required for lambda:invoke"
            )
        return "lambda", args["FunctionName"], args.get("Payload")
    if resource.startswith("arn:aws:lambda:"):
        return "direct", resource, args
    raise StatesError(
        errors.RUNTIME, f"The resource '{resource}' is not supported by the local engine"
    )


def enter(step: Step) -> None:
    step.run.phase = "attempt"


def attempt(step: Step) -> None:
    run, state, ex = step.run, step.state, step.ex
    resource = state.get("Resource", "")
    callback = resource.endswith(".waitForTaskToken")
    token = make_token(ex.arn) if callback else None
    scope = step.scope(run.input, token)
    args = step.lang.task_arguments(state, scope)
    timeout, heartbeat = step.lang.task_timeouts(state, scope)
    if arns.is_activity_arn(resource):
        activity_task.schedule(step, resource, args, timeout, heartbeat, make_token(ex.arn))
        return
    kind, function, body = lambda_target(resource, args)
    if kind == "lambda":
        details: dict[str, Any] = {
            "resourceType": "lambda",
            "resource": resource.rsplit(":", 1)[-1],
            "region": step.engine.region,
            "parameters": compact_json(args),
        }
        if timeout is not None:
            details["timeoutInSeconds"] = int(timeout)
        if heartbeat is not None:
            details["heartbeatInSeconds"] = int(heartbeat)
        step.event("TaskScheduled", details)
        step.event("TaskStarted", {"resourceType": "lambda", "resource": details["resource"]})
    else:
        details = {
            "resource": resource,
            "input": compact_json(args),
            "inputDetails": {"truncated": False},
        }
        if timeout is not None:
            details["timeoutInSeconds"] = int(timeout)
        step.event("LambdaFunctionScheduled", details)
        step.event("LambdaFunctionStarted", None)
    if _answer_from_mock(step, kind, resource):
        return
    step.wait()
    run.action = {
        "kind": kind,
        "function": function,
        "payload": body,
        "callback": callback,
        "token": token,
        "resource": resource,
        "seq": run.seq,
    }
    run.action_pending = 1
    run.phase = "waiting" if callback else "invoking"
    now = step.now()
    if token is not None:
        step.engine.store.add_token(step.conn, token, run.id, run.seq, ex.arn, heartbeat, now)
    if timeout is not None:
        step.timer(now + timeout, "timeout")
    if heartbeat is not None and callback:
        step.timer(now + heartbeat, "heartbeat")
    step.fx.invokes.append((run.id, run.seq))


def _answer_from_mock(step: Step, kind: str, resource: str) -> bool:
    """Answer this attempt from the execution's mocked test case, if it names this state.

    Runs after TaskScheduled/TaskStarted are recorded, so a mocked task's history reads like
    a real one's: ... TaskStarted, then TaskSucceeded with the Return value as the result,
    or TaskFailed with the Throw's Error and Cause (Retry and Catch apply as usual). No
    Lambda is invoked; a `.waitForTaskToken` task does not wait (its Return is the callback's
    output), so no TaskSubmitted, no token to answer and no task timeout timer.
    """
    store, run = step.engine.store, step.run
    row = store.mock_execution(step.conn, step.ex.arn)
    if row is None:
        return False
    states = json.loads(row["states"])
    if run.state not in states:
        return False  # not named by the test case: the integration runs for real
    mocked = MockedState.from_json(states[run.state])
    # Invocations are counted per state for the whole execution (first call 0, each retry
    # +1), in the same transaction as the answer, so a restart neither skips nor repeats one.
    invocations = json.loads(row["invocations"])
    number = int(invocations.get(run.state, 0))
    invocations[run.state] = number + 1
    store.save_mock_invocations(step.conn, step.ex.arn, invocations)
    answer = mocked.step_for(number)
    if answer is None:
        # AWS: "If you do not specify a mocked response for a specific retry attempt ... the
        # state machine execution will fail." States.RUNTIME is what Step Functions Local
        # raises, and States.ALL does not match it, so no Retry or Catch hides the gap.
        pending: dict[str, Any] = {
            "error": errors.RUNTIME,
            "cause": f"No mocked response for invocation {number} of state '{run.state}': "
            f"MockedResponse '{mocked.response}' of test case '{row['test_case']}' "
            f"defines no entry for it",
        }
    elif answer.kind == "Return":
        pending = {"result": answer.value}
    else:
        pending = {"error": answer.error, "cause": answer.cause}
    run.action = {
        "kind": kind,
        "resource": resource,
        "mocked": mocked.response,
        "invocation": number,
    }
    step.resolve(pending)
    return True


def call(invoker: LambdaInvoker, action: dict[str, Any]) -> tuple[bool, Any]:
    """Make the call an attempt asked for: (True, result) or (False, StatesError)."""
    try:
        return True, invoker.invoke(action["function"], action["payload"])
    except LambdaFunctionError as e:
        return False, StatesError(
            e.error_type,
            json.dumps(
                {
                    "errorMessage": e.error_message,
                    "errorType": e.error_type,
                    "requestId": str(uuid.uuid4()),
                    "stackTrace": e.stack_trace,
                }
            ),
        )
    except LambdaServiceError as e:
        return False, StatesError(e.error, e.cause)
    except Exception as e:
        return False, StatesError("Lambda.ServiceException", f"{type(e).__name__}: {e}")


def _short_resource(step: Step) -> str:
    return str((step.run.action or {}).get("resource", "")).rsplit(":", 1)[-1]


def succeeded(step: Step, result: Any) -> None:
    kind = (step.run.action or {}).get("kind")
    if kind == "activity":
        activity_task.succeeded(step, result)
        return
    if kind == "direct":
        step.event(
            "LambdaFunctionSucceeded",
            {"output": compact_json(result), "outputDetails": {"truncated": False}},
        )
        return
    step.event(
        "TaskSucceeded",
        {
            "resourceType": "lambda",
            "resource": _short_resource(step),
            "output": compact_json(result),
            "outputDetails": {"truncated": False},
        },
    )


def failed(step: Step, err: StatesError, timeout: bool) -> None:
    kind = (step.run.action or {}).get("kind")
    if kind == "activity":
        activity_task.failed(step, err, timeout)
        return
    details = {k: v for k, v in {"error": err.error, "cause": err.cause}.items() if v is not None}
    if kind == "direct":
        step.event("LambdaFunctionTimedOut" if timeout else "LambdaFunctionFailed", details)
        return
    step.event(
        "TaskTimedOut" if timeout else "TaskFailed",
        {"resourceType": "lambda", "resource": _short_resource(step), **details},
    )
