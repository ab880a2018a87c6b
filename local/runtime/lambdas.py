"""Runs the template's Python handlers in this process, as Lambda would run them.

Each invocation gets its function's environment, a Lambda-like context and JSON-serialised
event and result. Invocations are serialised by one lock because os.environ is process-wide;
handlers call back into this runtime over HTTP (Step Functions, SMS), which other threads serve.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.runtime.template import Application, Function
from local.stepfunctions import LambdaFunctionError, LambdaServiceError


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class LambdaRunner:
    def __init__(self, app: Application, base_env: dict[str, str]) -> None:
        self.app = app
        self.base_env = base_env
        self._lock = threading.RLock()
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}

    def function(self, name_or_arn: str) -> Function:
        # Accepts a name, a full ARN (optionally with :qualifier) or a partial ARN, as Lambda does.
        name = name_or_arn
        if ":function:" in name:
            name = name.split(":function:", 1)[1].split(":", 1)[0]
        fn = self.app.functions.get(name)
        if fn is None:
            raise LambdaServiceError(
                "Lambda.ResourceNotFoundException",
                f"Function not found: {name_or_arn} (Service: Lambda, Status Code: 404)",
            )
        return fn

    def invoke(self, function_name: str, payload: Any) -> Any:
        fn = self.function(function_name)
        event = json.loads(json.dumps(payload))
        request_id = str(uuid.uuid4())
        with self._lock, self._environment(fn, request_id):
            handler = self._handler(fn)
            context = LambdaContext(
                function_name=fn.logical_id,
                function_version="$LATEST",
                invoked_function_arn=fn.arn,
                memory_limit_in_mb=fn.memory_size,
                aws_request_id=request_id,
                log_group_name=f"/aws/lambda/{fn.logical_id}",
                log_stream_name=f"local/[$LATEST]{request_id.replace('-', '')}",
                deadline=time.monotonic() + fn.timeout,
            )
            try:
                result = handler(event, context)
            except Exception as error:
                raise LambdaFunctionError(
                    type(error).__name__,
                    str(error),
                    traceback.format_tb(error.__traceback__),
                ) from error
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as error:
            raise LambdaFunctionError(
                "Runtime.MarshalError", f"Unable to marshal response: {error}", []
            ) from error

    def _handler(self, fn: Function) -> Callable[[Any, Any], Any]:
        if fn.logical_id not in self._handlers:
            module_name, _, attribute = fn.handler.rpartition(".")
            code_path = str(fn.code_uri)
            if code_path not in sys.path:
                sys.path.insert(0, code_path)
            try:
                module = importlib.import_module(module_name.replace("/", "."))
                self._handlers[fn.logical_id] = getattr(module, attribute)
            except (ImportError, AttributeError) as error:
                raise LambdaFunctionError(
                    "Runtime.ImportModuleError",
                    f"Unable to import module '{module_name}': {error}",
                    [],
                ) from error
        return self._handlers[fn.logical_id]

    def _environment(self, fn: Function, request_id: str) -> _PatchedEnviron:
        env = {
            **self.base_env,
            **fn.environment,
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.logical_id}",
            "_X_AMZN_TRACE_ID": f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]}",
        }
        return _PatchedEnviron(env)


class _PatchedEnviron:
    """Sets variables for one invocation and puts the previous values back afterwards."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *_: object) -> None:
        for key, previous in self.saved.items():
            if previous is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = previous
