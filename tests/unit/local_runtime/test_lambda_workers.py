"""LambdaRunner runs each function in its own worker processes, as Lambda runs them.

The functions here are tiny handlers written to a temp dir, declared directly as the template
reader would declare them; none of the application's code is involved.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime.lambdas import LambdaRunner, LambdaSandboxError
from local.runtime.template import Application, Function
from local.stepfunctions import LambdaFunctionError, LambdaServiceError

HANDLERS = """
import json, os, signal, time

LOADED_AT = time.time()


def sleep(event, context):
    started = time.time()
    time.sleep(event.get("seconds", 0))
    return {"started": started, "ended": time.time(), "pid": os.getpid()}


def env(event, context):
    time.sleep(event.get("seconds", 0))
    return {name: os.environ.get(name) for name in event["names"]}


def context_of(event, context):
    return {
        "name": context.function_name,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
    }


def fail(event, context):
    raise KeyError("no such thing")


def crash(event, context):
    if event.get("signal"):
        os.kill(os.getpid(), signal.SIGSEGV)
    os._exit(3)


def unmarshallable(event, context):
    return {"when": object()}


def pid(event, context):
    return os.getpid()


def echo_size(event, context):
    return {"size": len(json.dumps(event))}


def big(event, context):
    return "x" * (6 * 1024 * 1024)
"""


def _function(
    root: Path, name: str, handler: str, timeout: int = 5, env: dict[str, str] | None = None
) -> Function:
    return Function(
        logical_id=name,
        handler=handler,
        code_uri=root,
        runtime="python3.11",
        timeout=timeout,
        memory_size=256,
        environment=env or {},
        sns_topics=(),
    )


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "handlers.py").write_text(HANDLERS)
    return root


@pytest.fixture
def make_runner(code: Path) -> Iterator[Callable[..., LambdaRunner]]:
    runners: list[LambdaRunner] = []

    def make(*functions: Function, base_env: dict[str, str] | None = None) -> LambdaRunner:
        app = Application(root=code, functions={fn.logical_id: fn for fn in functions})
        runner = LambdaRunner(app, base_env if base_env is not None else {"SHARED": "base"})
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        runner.close()


def _in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but still listed until reaped.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_two_slow_invocations_of_one_function_overlap(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Slow", "app.handlers.sleep"))
    runner.invoke("Slow", {})  # one warm worker; the second must be started on demand

    first, second = _in_parallel(
        lambda: runner.invoke("Slow", {"seconds": 3}),
        lambda: runner.invoke("Slow", {"seconds": 3}),
    )

    assert first["pid"] != second["pid"]
    # Run one after the other, the second would start when the first ended.
    assert second["started"] < first["ended"] and first["started"] < second["ended"]


def test_a_busy_function_grows_without_making_an_invocation_wait_for_the_new_init(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    # Each worker of this function takes 3 s to import (init): far longer than its invocations.
    (code / "app" / "slow_init.py").write_text(
        "import os, time\ntime.sleep(3)\n\n"
        "def handler(event, context):\n"
        "    time.sleep(event.get('seconds', 0))\n"
        "    return os.getpid()\n"
    )
    runner = make_runner(_function(code, "SlowInit", "app.slow_init.handler", timeout=10))
    first = runner.invoke("SlowInit", {})  # the cold start: paid by its invocation

    busy = threading.Thread(target=runner.invoke, args=("SlowInit", {"seconds": 0.5}))
    busy.start()
    time.sleep(0.1)
    started = time.monotonic()
    second = runner.invoke("SlowInit", {})  # every worker busy: a new one starts meanwhile
    waited = time.monotonic() - started
    busy.join(10)

    # It took the busy worker when that came free (0.4 s), not the new one after its 3 s init.
    assert second == first and waited < 2.0
    # The new worker joins the pool once ready: two warm workers now.
    deadline = time.monotonic() + 15
    while len(runner.idle_workers("SlowInit")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(runner.idle_workers("SlowInit")) == 2


def test_a_slow_function_does_not_delay_another(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(
        _function(code, "Signup", "app.handlers.sleep"),
        _function(code, "Inbound", "app.handlers.pid"),
    )
    runner.invoke("Inbound", {})  # warm, as a running system's would be
    busy = [
        threading.Thread(target=runner.invoke, args=("Signup", {"seconds": 3}), daemon=True)
        for _ in range(6)  # more than the pool's cap: some of them queue
    ]
    for thread in busy:
        thread.start()
    time.sleep(0.5)

    started = time.monotonic()
    runner.invoke("Inbound", {})

    assert time.monotonic() - started < 1.0
    for thread in busy:
        thread.join(30)


def test_each_function_sees_only_its_own_environment_at_the_same_time(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(
        _function(code, "A", "app.handlers.env", env={"PROGRAM": "alpha", "ONLY_A": "1"}),
        _function(code, "B", "app.handlers.env", env={"PROGRAM": "beta"}),
        base_env={"SHARED": "base", "PROGRAM": "from base"},
    )
    names = ["PROGRAM", "ONLY_A", "SHARED", "AWS_LAMBDA_FUNCTION_NAME", "HOME", "VIRTUAL_ENV"]
    os.environ["RUNTIME_ONLY"] = "leaks"
    try:
        a, b = _in_parallel(
            lambda: runner.invoke("A", {"names": [*names, "RUNTIME_ONLY"], "seconds": 1}),
            lambda: runner.invoke("B", {"names": [*names, "RUNTIME_ONLY"], "seconds": 1}),
        )
    finally:
        del os.environ["RUNTIME_ONLY"]

    assert a["PROGRAM"] == "alpha" and b["PROGRAM"] == "beta"  # the template's value wins
    assert a["ONLY_A"] == "1" and b["ONLY_A"] is None
    assert a["SHARED"] == b["SHARED"] == "base"
    assert (a["AWS_LAMBDA_FUNCTION_NAME"], b["AWS_LAMBDA_FUNCTION_NAME"]) == ("A", "B")
    # Nothing of the runtime's own process environment reaches a function.
    assert a["RUNTIME_ONLY"] is None and a["HOME"] is None and a["VIRTUAL_ENV"] is None
    assert "PROGRAM" not in os.environ


def test_worker_environment_has_lambdas_variables(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    fn = _function(code, "Env", "app.handlers.env")
    runner = make_runner(fn)

    env = runner.environment(fn)

    assert env["_HANDLER"] == "app.handlers.env"
    assert env["LAMBDA_TASK_ROOT"] == str(code)
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Env"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"


def test_context_and_trace_header_per_invocation(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Ctx", "app.handlers.context_of", timeout=7))

    first = runner.invoke("Ctx", {})
    second = runner.invoke("arn:aws:lambda:us-east-1:123456789012:function:Ctx", {})

    assert first["name"] == "Ctx"
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Ctx"
    assert first["memory"] == 256
    assert 0 < first["remaining"] <= 7000
    assert first["request_id"] != second["request_id"]
    assert first["trace"].startswith("Root=1-") and first["trace"] != second["trace"]


def test_timeout_fails_as_lambda_does_and_the_next_invocation_works(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Slow", "app.handlers.sleep", timeout=1))
    worker = runner.invoke("Slow", {})["pid"]

    started = time.monotonic()
    with pytest.raises(LambdaSandboxError) as caught:
        runner.invoke("Slow", {"seconds": 30})

    assert time.monotonic() - started < 3
    error = caught.value
    # What Step Functions' lambda:invoke reports, and what Lambda's Invoke API answers.
    assert error.error == "Lambda.Unknown"
    assert json.loads(error.cause)["errorType"] == "Sandbox.Timedout"
    assert error.payload["errorType"] == "Sandbox.Timedout"
    assert error.error_message.endswith("Task timed out after 1.00 seconds")
    assert _wait_dead(worker)  # killed, not left sleeping
    assert runner.invoke("Slow", {})["pid"] != worker  # replaced


def test_crashed_worker_fails_the_invocation_and_is_replaced(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(
        _function(code, "Crash", "app.handlers.crash"),
        _function(code, "Pid", "app.handlers.pid"),
    )

    with pytest.raises(LambdaSandboxError) as exited:
        runner.invoke("Crash", {})
    with pytest.raises(LambdaSandboxError) as segfault:
        runner.invoke("Crash", {"signal": True})

    assert exited.value.error == "Lambda.Unknown"
    assert exited.value.error_type == "Runtime.ExitError"
    assert exited.value.error_message.endswith("Runtime exited with error: exit status 3")
    assert segfault.value.error_message.endswith("Runtime exited with error: signal: segv")
    assert runner.idle_workers("Crash") == []
    assert isinstance(runner.invoke("Pid", {}), int)  # the others are unaffected


def test_handler_exception_is_a_function_error_with_its_class_and_traceback(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Fail", "app.handlers.fail"))

    with pytest.raises(LambdaFunctionError) as caught:
        runner.invoke("Fail", {})

    assert not isinstance(caught.value, LambdaServiceError)
    assert caught.value.error_type == "KeyError"
    assert "no such thing" in caught.value.error_message
    assert any("handlers.py" in line for line in caught.value.stack_trace)
    assert len(runner.idle_workers("Fail")) == 1  # a handled error keeps the worker warm


def test_unserialisable_result_is_a_marshal_error(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Bad", "app.handlers.unmarshallable"))

    with pytest.raises(LambdaFunctionError) as caught:
        runner.invoke("Bad", {})

    assert caught.value.error_type == "Runtime.MarshalError"
    assert "Unable to marshal response" in caught.value.error_message


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        ("app.missing.handler", "Runtime.ImportModuleError", "Unable to import module"),
        ("app.broken.handler", "Runtime.ImportModuleError", "division by zero"),
        ("app.handlers.nope", "Runtime.HandlerNotFound", "Handler 'nope' missing"),
    ],
)
def test_import_errors(
    code: Path,
    make_runner: Callable[..., LambdaRunner],
    handler: str,
    error_type: str,
    message: str,
) -> None:
    (code / "app" / "broken.py").write_text("1 / 0\n")
    runner = make_runner(_function(code, "Broken", handler))

    for _ in range(2):  # and again: each invocation retries the init, as Lambda does
        with pytest.raises(LambdaFunctionError) as caught:
            runner.invoke("Broken", {})
        assert caught.value.error_type == error_type
        assert message in caught.value.error_message
    assert runner.idle_workers("Broken") == []


def test_fixed_import_is_picked_up_without_a_restart(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    (code / "app" / "late.py").write_text("1 / 0\n")
    runner = make_runner(_function(code, "Late", "app.late.handler"))
    with pytest.raises(LambdaFunctionError):
        runner.invoke("Late", {})

    (code / "app" / "late.py").write_text("def handler(event, context):\n    return 'fixed'\n")
    time.sleep(1.1)

    assert runner.invoke("Late", {}) == "fixed"


def test_code_change_recycles_warm_workers(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    module = code / "app" / "version.py"
    module.write_text("def handler(event, context):\n    return 1\n")
    runner = make_runner(_function(code, "Version", "app.version.handler"))
    assert runner.invoke("Version", {}) == 1
    old = runner.idle_workers("Version")

    module.write_text("def handler(event, context):\n    return 2  # edited\n")
    assert runner.invoke("Version", {}) == 1  # within the second the last check is trusted
    time.sleep(1.1)

    assert runner.invoke("Version", {}) == 2
    assert runner.idle_workers("Version") != old
    assert all(_wait_dead(pid) for pid in old)


def test_unchanged_code_keeps_the_same_warm_worker(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Pid", "app.handlers.pid"))
    first = runner.invoke("Pid", {})
    time.sleep(1.1)  # a new check: the bytecode Python wrote since is not a change

    assert runner.invoke("Pid", {}) == first


def test_unknown_function_is_resource_not_found(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(_function(code, "Pid", "app.handlers.pid"))

    with pytest.raises(LambdaServiceError) as caught:
        runner.invoke("Nope", {})

    assert caught.value.error == "Lambda.ResourceNotFoundException"


def test_close_stops_every_worker_and_refuses_later_invocations(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    runner = make_runner(
        _function(code, "A", "app.handlers.pid"), _function(code, "B", "app.handlers.pid")
    )
    pids = [runner.invoke("A", {}), runner.invoke("B", {})]

    runner.close()

    assert all(_wait_dead(pid) for pid in pids)
    with pytest.raises(LambdaServiceError) as caught:
        runner.invoke("A", {})
    assert caught.value.error == "Lambda.ServiceException"


FLAKY = """
import pathlib, time


def handler(event, context):
    marker = pathlib.Path(event["marker"])
    if not marker.exists():
        marker.write_text("slow once")
        time.sleep(30)
    return {"ok": True}
"""


def _machine(retry: bool) -> str:
    task: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "Flaky", "Payload.$": "$"},
        "ResultSelector": {"ok.$": "$.Payload.ok"},
        "End": True,
    }
    if retry:
        task["Retry"] = [{"ErrorEquals": ["Lambda.Unknown"], "IntervalSeconds": 1}]
    return json.dumps({"StartAt": "Call", "States": {"Call": task}})


@pytest.mark.parametrize("retry", [True, False])
def test_step_functions_sees_a_timeout_as_lambda_unknown(
    code: Path, tmp_path: Path, make_runner: Callable[..., LambdaRunner], retry: bool
) -> None:
    from local.stepfunctions import StepFunctionsService

    (code / "app" / "flaky.py").write_text(FLAKY)
    runner = make_runner(_function(code, "Flaky", "app.flaky.handler", timeout=1))
    service = StepFunctionsService(tmp_path / "sfn.db", runner)
    arn = service.upsert_state_machine("M", _machine(retry), "arn:aws:iam::123456789012:role/local")
    service.start()
    try:
        started = service.start_execution(
            {"stateMachineArn": arn, "input": json.dumps({"marker": str(tmp_path / "m")})}
        )
        result = service.wait_for(started["executionArn"], timeout=20)
        history = service.get_execution_history({"executionArn": started["executionArn"]})
    finally:
        service.stop()

    failed = [e for e in history["events"] if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Lambda.Unknown"
    cause = json.loads(failed[0]["taskFailedEventDetails"]["cause"])
    assert cause["errorType"] == "Sandbox.Timedout"
    assert cause["errorMessage"].endswith("Task timed out after 1.00 seconds")
    if retry:
        assert result["status"] == "SUCCEEDED"
        assert json.loads(result["output"]) == {"ok": True}
    else:
        assert result["status"] == "FAILED"
        assert result["error"] == "Lambda.Unknown"


def test_lambdas_six_megabyte_limits_both_ways(
    code: Path, make_runner: Callable[..., LambdaRunner]
) -> None:
    """Lambda refuses a synchronous request over 6 MB before running anything, and turns a
    result over 6 MB into its own function error; just under the limit works."""
    runner = make_runner(
        _function(code, "Echo", "app.handlers.echo_size"),
        _function(code, "Big", "app.handlers.big"),
    )
    limit = 6 * 1024 * 1024
    under = {"data": "x" * (limit - 100)}
    assert runner.invoke("Echo", under)["size"] == len(json.dumps(under))
    with pytest.raises(LambdaServiceError) as refused:
        runner.invoke("Echo", {"data": "x" * limit})
    assert refused.value.error == "Lambda.RequestTooLargeException"
    assert "6291456 bytes" in refused.value.cause
    with pytest.raises(LambdaFunctionError) as too_big:
        runner.invoke("Big", {})
    assert too_big.value.error_type == "Function.ResponseSizeTooLarge"
