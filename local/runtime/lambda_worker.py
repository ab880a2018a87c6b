"""One Lambda execution environment: a process that imports one handler and runs it on demand.

Started by local.runtime.lambdas as `python -u lambda_worker.py REQUEST_FD RESPONSE_FD` with
exactly the function's environment, it speaks JSON lines over two pipes (stdout and stderr stay
the function's log, as on Lambda):

    request   {"requestId": …, "event": …, "remainingMs": …, "traceId": …, "arn": …}
    response  {"result": …}  or  {"errorType": …, "errorMessage": …, "stackTrace": […]}

and one line {"ready": true} once the handler is imported, before any response.

The handler is imported before the first request, as Lambda's init phase does. An import that
fails is answered Runtime.ImportModuleError and the process exits, so the next invocation
initialises afresh (Lambda retries init too). When the request pipe reaches end of file the
runtime has gone (stopped, or killed with -9), and so does this process, even mid-invocation.

Standard library only, and nothing from `local`: the process must hold the function's code and
its dependencies, not the runtime's.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any


class LambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = str(request.get("arn", ""))
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = str(request["requestId"])
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + int(request.get("remainingMs", 0)) / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load_handler(spec: str) -> tuple[Any, dict[str, Any] | None]:
    """The handler, or the error Lambda answers every invocation with when init failed."""
    module_name, _, attribute = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as error:
        return None, {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import module '{module_name}': {error}",
            "stackTrace": [],
        }
    handler = getattr(module, attribute, None)
    if not callable(handler):
        return None, {
            "errorType": "Runtime.HandlerNotFound",
            "errorMessage": f"Handler '{attribute}' missing on module '{module_name}'",
            "stackTrace": [],
        }
    return handler, None


def _invoke(handler: Any, request: dict[str, Any]) -> bytes:
    """One invocation's response line."""
    # Lambda sets the trace header per invocation in the environment; Powertools reads it there.
    os.environ["_X_AMZN_TRACE_ID"] = str(request.get("traceId", ""))
    try:
        response: dict[str, Any] = {"result": handler(request["event"], LambdaContext(request))}
    except Exception as error:
        response = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    try:
        return json.dumps(response).encode() + b"\n"
    except (TypeError, ValueError) as error:
        marshal_error = {
            "errorType": "Runtime.MarshalError",
            "errorMessage": f"Unable to marshal response: {error}",
            "stackTrace": [],
        }
        return json.dumps(marshal_error).encode() + b"\n"


def _requests(fd: int) -> Iterator[dict[str, Any]]:
    """The runtime's requests, read by the thread that runs them: a hand-over from a reader
    thread cost a thread switch per invocation. End of file: the runtime has gone."""
    pending: list[bytes] = []  # a large event arrives in many reads: joined once, at its end
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            os._exit(0)
        while b"\n" in chunk:
            end, chunk = chunk.split(b"\n", 1)
            yield json.loads(b"".join([*pending, end]))
            pending = []
        if chunk:
            pending.append(chunk)


def _exit_on_hangup(fd: int) -> None:
    """Exit the process when the runtime's end of the request pipe closes, even while a handler
    runs. The runtime sends nothing else during an invocation, so waiting for the hang-up alone
    (no read) takes no request away from the main thread."""
    watcher = select.poll()
    watcher.register(fd, 0)  # POLLHUP and POLLERR are always reported
    while True:
        for _, event in watcher.poll():
            if event & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                # os._exit: no atexit, no flush of a handler's half-done work; the runtime that
                # asked for it is gone, as a Lambda environment is when it is reclaimed.
                os._exit(0)


def whole_line_output(fd: int) -> io.TextIOWrapper:
    """A text stream on `fd` that hands the file each line in one write.

    Every worker and the runtime append to one log file (O_APPEND), and whole lines from
    different processes interleave safely; part-lines do not. Under `python -u` a `print(x)`
    is two writes, x and then the newline (Powertools' metrics are printed so), and another
    process's line could land between them: two JSON objects on one line. Line buffering
    over a large buffer keeps a line together up to 1 MiB and still flushes at each newline,
    so nothing complete is lost when the process is killed."""
    raw = open(fd, "wb", buffering=1 << 20, closefd=False)  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", line_buffering=True)


def main(argv: list[str]) -> None:
    request_fd, response_fd = int(argv[1]), int(argv[2])
    sys.stdout = whole_line_output(1)
    sys.stderr = whole_line_output(2)
    # Ctrl-C in the runtime's terminal reaches its whole process group; the runtime decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Run as a script, Python put this file's directory first on the path, where its siblings
    # (config.py, template.py, …) would shadow the function's own modules.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])

    threading.Thread(target=_exit_on_hangup, args=(request_fd,), daemon=True).start()
    # Buffered, flushed per line: a raw pipe write may take only part of a large response.
    responses = os.fdopen(response_fd, "wb")

    handler, init_error = _load_handler(os.environ["_HANDLER"])
    # Init is over: the runtime starts the invocation's clock only now, as Lambda's does.
    responses.write(b'{"ready": true}\n')
    responses.flush()
    for request in _requests(request_fd):
        if init_error is not None:
            responses.write(json.dumps(init_error).encode() + b"\n")
            responses.flush()
            os._exit(0)
        responses.write(_invoke(handler, request))
        responses.flush()


if __name__ == "__main__":
    main(sys.argv)
