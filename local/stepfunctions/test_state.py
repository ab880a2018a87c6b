"""TestState: one state run on its own, as AWS's TestState API runs it, with nothing persisted.

The state's expressions go through the same query languages (`languages/`) as an execution's,
Retry/Catch through the same matching (`states/retry.py`), a Lambda call through the same
invoker (`states/task.py`); what differs is that nothing waits or is stored: a Wait state
answers at once, a Task either calls its Lambda in this request or answers from `mock`, and the
outcome is one of AWS's four statuses:

SUCCEEDED     the state ran; its output and, unless it ends the machine, nextState
FAILED        an error no Retry or Catch handles (a Fail state too)
RETRIABLE     a Retry matches the error and has attempts left (`stateConfiguration.
              retrierRetryCount` says how many it used); error and cause, no output
CAUGHT_ERROR  a Catch matches: its output and Next, and the error and cause it caught

inspectionLevel DEBUG (and TRACE: HTTP Tasks are not supported, so there is no HTTP request
to show) adds `inspectionData`: the data after each processing step, the variables, and which
retrier or catcher handled an error.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import arns, errors
from .clock import Clock
from .context import compact_json
from .errors import ApiError, StatesError
from .invoker import LambdaInvoker
from .languages import Scope, language_of
from .languages import payload as jsonpath_payload
from .languages.base import MapPlan, QueryLanguage
from .languages.jsonpath_lang import JSONPATH
from .states import map as map_state
from .states import retry, task
from .timestamps import iso
from .validation import parse_checked
from .validation.machines import machines

INSPECTION_LEVELS = ("INFO", "DEBUG", "TRACE")
VALIDATION_MODES = ("STRICT", "PRESENT", "NONE")
MOCKABLE_TYPES = frozenset({"Task", "Map", "Parallel"})
MAX_DEFINITION = 1048576
MAX_DATA = 262144
# The name a lone state runs under ($$.State.Name): AWS documents none.
LONE_STATE_NAME = "TestState"


def _validation(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def _constraint(value: Any, member: str, constraint: str) -> ApiError:
    return _validation(
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must {constraint}"
    )


@dataclass
class Request:
    """A TestState request, checked: the state, its name and language, and the data it gets."""

    state: dict[str, Any]
    name: str
    lang: QueryLanguage
    input: Any
    variables: dict[str, Any]
    level: str
    role_arn: str | None
    mock: dict[str, Any] | None
    context: dict[str, Any] | None
    retry_count: int
    map_failures: int | None
    error_state: str | None


@dataclass
class Outcome:
    status: str
    output: Any = None
    has_output: bool = False
    error: str | None = None
    cause: str | None = None
    next_state: str | None = None
    inspection: dict[str, Any] = field(default_factory=dict)

    def to_api(self, level: str) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.has_output:
            out["output"] = compact_json(self.output)
        if self.error is not None:
            out["error"] = self.error
        if self.cause is not None:
            out["cause"] = self.cause
        if self.next_state is not None:
            out["nextState"] = self.next_state
        if level != "INFO":
            out["inspectionData"] = self.inspection
        return out


def run_test_state(
    req: dict[str, Any], invoker: LambdaInvoker, region: str, account_id: str, clock: Clock
) -> dict[str, Any]:
    """The TestState operation: check the request, run the state once, answer AWS's shape."""
    checked = _check(req)
    runner = _Runner(checked, invoker, region, account_id, clock)
    return runner.run().to_api(checked.level)


# ------------------------------------------------------------------ checking the request


def _check(req: dict[str, Any]) -> Request:
    definition = req.get("definition")
    if definition is None:
        raise _constraint("null", "definition", "not be null")
    if not isinstance(definition, str) or not 1 <= len(definition) <= MAX_DEFINITION:
        bound = f"have length less than or equal to {MAX_DEFINITION}"
        raise _constraint("***", "definition", bound)
    level = req.get("inspectionLevel") or "INFO"
    if level not in INSPECTION_LEVELS:
        raise _constraint(level, "inspectionLevel", "satisfy enum value set: [INFO, DEBUG, TRACE]")
    role = req.get("roleArn")
    if role is not None:
        arns.check_role_arn(role)
    state_name = req.get("stateName")
    if state_name is not None:
        state, name, lang = _state_of_machine(definition, state_name)
    else:
        state, name, lang = _lone_state(definition)
    mock = _check_mock(req.get("mock"), state)
    context = req.get("context")
    if context is not None:
        if mock is None:
            raise _validation("A context can only be specified together with a mock.")
        context = _json_object(context, "context")
    config = req.get("stateConfiguration") or {}
    if not isinstance(config, dict):
        raise _validation("stateConfiguration must be an object")
    retry_count = _count(config, "retrierRetryCount") or 0
    map_failures = _count(config, "mapIterationFailureCount")
    error_state = config.get("errorCausedByState")
    if error_state is not None:
        _check_error_state(state, error_state, mock)
    _check_runnable(state, mock)
    return Request(
        state=state,
        name=name,
        lang=lang,
        input=_input(req.get("input")),
        variables=_json_object(req["variables"], "variables") if req.get("variables") else {},
        level=level,
        role_arn=role,
        mock=mock,
        context=context,
        retry_count=retry_count,
        map_failures=map_failures,
        error_state=error_state,
    )


def _input(raw: Any) -> Any:
    if raw is None:
        return {}
    if not isinstance(raw, str) or len(raw.encode()) > MAX_DATA:
        raise ApiError("InvalidExecutionInput", "Invalid State Machine Execution Input")
    try:
        return json.loads(raw)
    except ValueError as e:
        raise ApiError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{e}'"
        ) from e


def _json_object(raw: Any, member: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise _validation(f"The {member} must be a JSON object")
    return value


def _count(config: dict[str, Any], member: str) -> int | None:
    value = config.get(member)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _constraint(
            value, f"stateConfiguration.{member}", "have value greater than or equal to 0"
        )
    return value


def _state_of_machine(definition: str, state_name: Any) -> tuple[dict[str, Any], str, Any]:
    """stateName: the definition is a whole machine (checked as CreateStateMachine checks it);
    the state may be at its top level or inside a branch or a Map's processor."""
    doc = parse_checked(definition)
    for machine in machines(doc):
        state = machine.states.get(state_name)
        if isinstance(state, dict):
            return state, state_name, language_of(doc, machine.body, state)
    raise _validation(f"State '{state_name}' is not defined in the state machine definition")


def _lone_state(definition: str) -> tuple[dict[str, Any], str, Any]:
    """A single state, checked by the definition validator as the only state of a machine
    whose transition targets exist (a lone state's Next names a state the test never runs)."""
    try:
        state = json.loads(definition)
    except ValueError:
        state = None
    if not isinstance(state, dict):
        parse_checked(definition)  # AWS's InvalidDefinition for text that is not an object
        raise ApiError(
            "InvalidDefinition", "Invalid State Machine Definition: 'a state must be an object'"
        )
    if "States" in state and "StartAt" in state:
        raise _validation("The definition is a state machine: give stateName to test one state")
    targets = _targets(state)
    name = LONE_STATE_NAME
    while name in targets:
        name += "_"
    wrapper: dict[str, Any] = {
        "StartAt": name,
        "States": {name: state, **{t: {"Type": "Succeed"} for t in targets}},
    }
    if state.get("QueryLanguage") is not None:
        # nested states (branches, processors) take the top level's language
        wrapper["QueryLanguage"] = state["QueryLanguage"]
    doc = parse_checked(json.dumps(wrapper))
    return state, name, language_of(doc, doc, state)


def _targets(state: dict[str, Any]) -> set[str]:
    found = {state.get("Next"), state.get("Default")}
    for holder in ("Choices", "Catch"):
        for entry in state.get(holder) or []:
            if isinstance(entry, dict):
                found.add(entry.get("Next"))
    return {t for t in found if isinstance(t, str)}


def _check_mock(mock: Any, state: dict[str, Any]) -> dict[str, Any] | None:
    if mock is None:
        return None
    if not isinstance(mock, dict):
        raise _validation("mock must be an object")
    if state.get("Type") not in MOCKABLE_TYPES:
        raise _validation(
            "A mock can only be specified for Task, Map or Parallel states, "
            f"not {state.get('Type')}"
        )
    mode = mock.get("fieldValidationMode") or "STRICT"
    if mode not in VALIDATION_MODES:
        raise _constraint(
            mode, "mock.fieldValidationMode", "satisfy enum value set: [STRICT, PRESENT, NONE]"
        )
    has_result, has_error = mock.get("result") is not None, mock.get("errorOutput") is not None
    if has_result == has_error:
        raise _validation("A mock must have exactly one of result and errorOutput")
    if has_error:
        error_output = mock["errorOutput"]
        if not isinstance(error_output, dict) or not isinstance(error_output.get("error"), str):
            raise _validation("mock.errorOutput.error is required")
        return {"error": error_output["error"], "cause": error_output.get("cause")}
    try:
        result = json.loads(mock["result"])
    except (TypeError, ValueError) as e:
        raise _validation(f"mock.result is not valid JSON: {e}") from e
    if mode == "STRICT" and state.get("Type") == "Map" and not isinstance(result, list):
        raise _validation("The mocked result of a Map state must be a JSON array")
    if mode == "STRICT" and state.get("Type") == "Parallel" and not isinstance(result, list):
        raise _validation("The mocked result of a Parallel state must be a JSON array")
    return {"result": result}


def _check_error_state(
    state: dict[str, Any], error_state: Any, mock: dict[str, Any] | None
) -> None:
    if state.get("Type") not in ("Map", "Parallel") or mock is None or "error" not in mock:
        raise _validation(
            "errorCausedByState can only be specified with a mocked error of a Map or Parallel"
        )
    inner = [state.get("ItemProcessor") or state.get("Iterator") or {}]
    inner += state.get("Branches") or []
    for machine_body in inner:
        for machine in machines(machine_body):
            if error_state in machine.states:
                return
    raise _validation(f"errorCausedByState '{error_state}' is not a state of this {state['Type']}")


def _check_runnable(state: dict[str, Any], mock: dict[str, Any] | None) -> None:
    """What AWS runs only when mocked: Map, Parallel, activities, .sync and callbacks."""
    if mock is not None:
        return
    kind = state.get("Type")
    resource = str(state.get("Resource", ""))
    if kind in ("Map", "Parallel"):
        raise _validation(f"A {kind} state can only be tested with a mock")
    if kind == "Task" and (
        ":activity:" in resource or resource.endswith((".sync", ".sync:2", ".waitForTaskToken"))
    ):
        raise _validation(
            "Activity tasks and .sync or .waitForTaskToken integrations can only be tested "
            "with a mock"
        )


# ------------------------------------------------------------------ running the state


class _Runner:
    def __init__(
        self,
        req: Request,
        invoker: LambdaInvoker,
        region: str,
        account_id: str,
        clock: Clock,
    ) -> None:
        self.req = req
        self.invoker = invoker
        self.clock = clock
        self.state = req.state
        self.lang = req.lang
        self.jsonpath = req.lang is JSONPATH
        self.variables = dict(req.variables)
        self.inspection: dict[str, Any] = {"input": compact_json(req.input)}
        self.scope = Scope(req.input, self._context(region, account_id), self.variables)
        self._plan: MapPlan | None = None

    def _context(self, region: str, account_id: str) -> dict[str, Any]:
        now = iso(self.clock.now())
        machine = "TestStateMachine"
        context: dict[str, Any] = {
            "Execution": {
                "Id": arns.execution_arn(region, account_id, machine, str(uuid.uuid4())),
                "Input": self.req.input,
                "Name": "TestStateExecution",
                "RoleArn": self.req.role_arn,
                "StartTime": now,
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": now,
                "Name": self.req.name,
                "RetryCount": self.req.retry_count,
            },
            "StateMachine": {
                "Id": arns.state_machine_arn(region, account_id, machine),
                "Name": machine,
            },
        }
        if str(self.state.get("Resource", "")).endswith(".waitForTaskToken"):
            # a callback task passes its token on; mocked, nothing will ever answer it
            context["Task"] = {"Token": task.make_token(context["Execution"]["Id"])}
        for key, value in (self.req.context or {}).items():
            if isinstance(value, dict) and isinstance(context.get(key), dict):
                context[key] = {**context[key], **value}
            else:
                context[key] = value
        return context

    def run(self) -> Outcome:
        kind = self.state.get("Type")
        try:
            if kind == "Pass":
                return self._pass()
            if kind == "Choice":
                return self._choice()
            if kind == "Wait":
                return self._wait()
            if kind == "Succeed":
                return self._done(self._succeed(), None)
            if kind == "Fail":
                error, cause = self.lang.fail_state(self.state, self.scope)
                return self._outcome("FAILED", error=error, cause=cause)
            return self._task_like()
        except StatesError as e:
            return self._failure(e)

    # -------------------------------------------------------------- the state types

    def _pass(self) -> Outcome:
        if self.jsonpath:
            self._input_stages(parameters=True)
        result, out, assign = self.lang.pass_state(self.state, self.scope)
        self.inspection["result"] = compact_json(result)
        if self.jsonpath:
            self._after_result_path(result)
        self._assign(assign)
        return self._done(out, self._next())

    def _choice(self) -> Outcome:
        if self.jsonpath:
            self._input_stages(parameters=False)
        target, out, assign = self.lang.choice_state(self.state, self.scope)
        self._assign(assign)
        return self._done(out, target)

    def _wait(self) -> Outcome:
        # Nothing waits: the test answers what the state would pass on after its wait.
        if self.jsonpath:
            self._input_stages(parameters=False)
        _, out, assign = self.lang.wait_state(self.state, self.scope, self.clock.now())
        self._assign(assign)
        return self._done(out, self._next())

    def _succeed(self) -> Any:
        if self.jsonpath:
            self._input_stages(parameters=False)
        return self.lang.succeed_state(self.state, self.scope)

    def _task_like(self) -> Outcome:
        kind = self.state.get("Type")
        if self.jsonpath:
            self._input_stages(parameters=kind != "Map")
        arguments: Any = None
        if kind == "Map":
            self._map_plan()
        elif kind == "Parallel":
            arguments = self.lang.parallel_input(self.state, self.scope)
            if not self.jsonpath:
                self.inspection["afterArguments"] = compact_json(arguments)
        else:
            arguments = self.lang.task_arguments(self.state, self.scope)
            if not self.jsonpath:
                self.inspection["afterArguments"] = compact_json(arguments)
        mock = self.req.mock
        if mock is not None and "error" in mock:
            raise StatesError(mock["error"], mock.get("cause"))
        result = mock["result"] if mock is not None else self._call(arguments)
        self._map_failures()
        self.inspection["result"] = compact_json(result)
        if self.jsonpath:
            selected = result
            if "ResultSelector" in self.state:
                selected = jsonpath_payload.render(
                    self.state["ResultSelector"], self.scope.with_data(result)
                )
                self.inspection["afterResultSelector"] = compact_json(selected)
            self._after_result_path(selected)
        out, assign = self.lang.task_output(self.state, self.scope, result)
        self._assign(assign)
        return self._done(out, self._next())

    def _call(self, arguments: Any) -> Any:
        """The Task's Lambda, called once, in this request (no mock: AWS calls the service)."""
        resource = str(self.state.get("Resource", ""))
        kind, function, body = task.lambda_target(resource, arguments)
        ok, value = task.call(self.invoker, {"kind": kind, "function": function, "payload": body})
        if not ok:
            raise value
        return task.lambda_result(value) if kind == "lambda" else value

    def _map_plan(self) -> None:
        plan = self.lang.map_plan(self.state, self.scope)
        if self.jsonpath:
            self.inspection["afterItemsPath"] = compact_json(plan.items)
        item_inputs = []
        for index, item in enumerate(plan.items):
            item_context = {**self.scope.context, "Map": {"Item": {"Index": index, "Value": item}}}
            item_scope = Scope(self.scope.data, item_context, self.variables)
            item_inputs.append(self.lang.map_item_input(self.state, item_scope, item))
        self.inspection["afterItemSelector"] = compact_json(item_inputs)
        self.inspection["maxConcurrency"] = plan.max_concurrency
        if plan.tolerated_count is not None:
            self.inspection["toleratedFailureCount"] = int(plan.tolerated_count)
        if plan.tolerated_percentage is not None:
            self.inspection["toleratedFailurePercentage"] = float(plan.tolerated_percentage)
        self._plan = plan

    def _map_failures(self) -> None:
        """stateConfiguration.mapIterationFailureCount: failed iterations beyond the Map's
        tolerance fail it, as in an execution."""
        failures = self.req.map_failures
        if self.state.get("Type") != "Map" or not failures:
            return
        plan = self._plan
        if plan is not None and not map_state.within_tolerance(
            plan.tolerated_count, plan.tolerated_percentage, len(plan.items), failures
        ):
            raise StatesError(
                errors.EXCEED_TOLERATED_FAILURE,
                "The specified tolerated failure threshold was exceeded",
            )

    # -------------------------------------------------------------- data stages (DEBUG)

    def _input_stages(self, parameters: bool) -> None:
        after_input = jsonpath_payload.input_path(self.state, self.scope)
        self.inspection["afterInputPath"] = compact_json(after_input)
        if parameters:
            effective = after_input
            if "Parameters" in self.state:
                effective = jsonpath_payload.render(
                    self.state["Parameters"], self.scope.with_data(after_input)
                )
            self.inspection["afterParameters"] = compact_json(effective)

    def _after_result_path(self, result: Any) -> None:
        combined = jsonpath_payload.result_path(self.state, self.req.input, result)
        self.inspection["afterResultPath"] = compact_json(combined)

    def _assign(self, assign: dict[str, Any] | None) -> None:
        if assign:
            self.variables.update(assign)

    # -------------------------------------------------------------- outcomes

    def _next(self) -> str | None:
        target = self.state.get("Next")
        return target if isinstance(target, str) else None

    def _done(self, output: Any, next_state: str | None) -> Outcome:
        return self._outcome("SUCCEEDED", output=output, has_output=True, next_state=next_state)

    def _outcome(self, status: str, **fields: Any) -> Outcome:
        if self.variables:
            self.inspection["variables"] = compact_json(self.variables)
        return Outcome(status, inspection=self.inspection, **fields)

    def _failure(self, err: StatesError) -> Outcome:
        """Retry and Catch, as an execution applies them to this error at this retry count."""
        if self.state.get("Type") not in retry.RETRYABLE_TYPES:
            return self._outcome("FAILED", error=err.error, cause=err.cause)
        retriers = self.state.get("Retry") or []
        i = retry.matching(retriers, err.error)
        count = self.req.retry_count
        if i is not None and count < retriers[i].get("MaxAttempts", 3):
            self.inspection["errorDetails"] = {
                "retryIndex": i,
                "retryBackoffIntervalSeconds": int(retry.backoff_seconds(retriers[i], count)),
            }
            return self._outcome("RETRIABLE", error=err.error, cause=err.cause)
        catchers = self.state.get("Catch") or []
        c = retry.matching(catchers, err.error)
        if c is None:
            return self._outcome("FAILED", error=err.error, cause=err.cause)
        self.inspection["errorDetails"] = {"catchIndex": c}
        # The catcher's output is built from the state's raw input, as in an execution.
        scope = Scope(self.req.input, self.scope.context, self.variables)
        out, assign = self.lang.catch_output(catchers[c], scope, retry.error_output(err))
        self._assign(assign)
        return self._outcome(
            "CAUGHT_ERROR",
            output=out,
            has_output=True,
            error=err.error,
            cause=err.cause,
            next_state=catchers[c]["Next"],
        )
