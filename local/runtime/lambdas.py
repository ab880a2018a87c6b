"""Runs the template's Python functions as Lambda runs them: each in its own warm processes.

Every function gets a small pool of worker processes (local/runtime/lambda_worker.py), each
started with exactly that function's environment — the runtime's AWS endpoint variables
(base_env), the template's Environment, and the variables Lambda itself sets — and its CodeUri
on the path. Nothing in the runtime's own process is swapped per invocation, so invocations run
concurrently: up to `concurrency` at a time per function, and one function's queue never delays
another's. Idle workers stay warm for the next invocation. The pool scales as Lambda does — a
new worker when an invocation finds none idle, up to the cap — except that the invocation that
asked for it does not wait for that worker's init (about a second of imports) when one of the
busy workers comes free sooner: it takes whichever is first, and the new worker joins the idle
ones when ready. Only a function's first worker is started by its invocation, as a cold start.

As on Lambda:
* a handler that raises → LambdaFunctionError(errorType = its class name, its traceback);
  a result that is not JSON → Runtime.MarshalError; an import that fails →
  Runtime.ImportModuleError (Runtime.HandlerNotFound for a missing attribute);
* an invocation that outlives the function's Timeout is cut short: the worker is killed and
  replaced, and the caller gets LambdaSandboxError(errorType Sandbox.Timedout, "Task timed out
  after N.NN seconds"); a worker that dies mid-invocation (os._exit, a signal) gets
  Runtime.ExitError. Step Functions' lambda:invoke reports both as Lambda.Unknown, which is
  what LambdaSandboxError.error says, so a Retry on Lambda.Unknown behaves as on AWS. The
  handler's init (imports) has its own allowance before the Timeout starts, as on Lambda.

Code changes under a function's CodeUri are picked up without a restart, as `sam local` does:
before an invocation the files under CodeUri are compared (one walk a second at most) and the
function's workers running older code are retired.

Workers exit when the runtime closes their request pipe: on close(), at interpreter exit, and
— because the kernel closes it for a dead process — when the runtime is killed with -9.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from local.runtime.template import Application, Function
from local.stepfunctions import LambdaFunctionError, LambdaServiceError

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
DEFAULT_CONCURRENCY = 4
# How long a code-change check is trusted: one walk of CodeUri per second at most.
CODE_CHECK_SECONDS = 1.0
# A new worker costs about a second of CPU (its imports) while most invocations take a few
# milliseconds: so one is started at a time per function, in the background (see _Pool).
# Lambda gives a function's init phase 10 s of its own before the invocation's Timeout counts.
INIT_SECONDS = 10.0
_SKIPPED_DIRS = {"__pycache__", "node_modules"}

CodeSignature = tuple[int, int, int]


# Lambda's limit on a synchronous invocation's request and response payloads: 6 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024


class LambdaSandboxError(LambdaServiceError):
    """The invocation failed outside the handler: it timed out, or its process died.

    Lambda answers it with FunctionError Unhandled and an errorType of its own (`payload`, the
    Invoke API's body); Step Functions reports it as error Lambda.Unknown with that payload as
    the cause, which is what this exception's error and cause are.
    """

    def __init__(self, error_type: str, error_message: str) -> None:
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace: list[str] = []
        super().__init__("Lambda.Unknown", json.dumps(self.payload))

    @property
    def payload(self) -> dict[str, Any]:
        """The body Lambda's Invoke API answers with (status 200, X-Amz-Function-Error)."""
        return {"errorType": self.error_type, "errorMessage": self.error_message}


class _Worker:
    """One process running one function's handler; serves one invocation at a time."""

    def __init__(self, fn: Function, env: dict[str, str], output: int | IO[Any] | None) -> None:
        request_read, self._requests = os.pipe()
        self._responses, response_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-u", str(WORKER_SCRIPT), str(request_read), str(response_write)],
                env=env,
                cwd=fn.code_uri,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                pass_fds=(request_read, response_write),
            )
        except BaseException:
            os.close(self._requests)
            os.close(self._responses)
            raise
        finally:
            # Only the child holds these ends now: its death is our end of file, and ours its.
            os.close(request_read)
            os.close(response_write)

    def ready(self, timeout: float) -> bool:
        """Wait for the end of init; False if the worker died first. TimeoutError if slow."""
        return self._read_line(time.monotonic() + timeout) is not None

    def call(self, request: bytes, timeout: float) -> tuple[dict[str, Any] | None, int]:
        """Send one request line; its response and the response line's length, or None if
        the worker died. TimeoutError if the response is not complete within timeout seconds."""
        try:
            os.write(self._requests, request)
        except OSError:
            return None, 0
        line = self._read_line(time.monotonic() + timeout)
        if line is None:
            return None, 0
        response: dict[str, Any] = json.loads(line)
        return response, len(line)

    def _read_line(self, deadline: float) -> bytes | None:
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([self._responses], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._responses, 1 << 20)
            if not chunk:
                return None
            if b"\n" in chunk:
                # One request at a time: nothing follows a response's newline.
                return b"".join([*chunks, chunk.split(b"\n", 1)[0]])
            chunks.append(chunk)

    def exit_description(self) -> str:
        """How the process ended, in the words Lambda uses for Runtime.ExitError."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.returncode
        if code < 0:
            try:
                name = signal.Signals(-code).name.removeprefix("SIG").lower()
            except ValueError:
                name = str(-code)
            return f"signal: {name}"
        return f"exit status {code}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.close_pipes()

    def stop(self, grace: float = 2.0) -> None:
        """End of file on its request pipe makes the worker exit; kill it if it lingers."""
        self.close_pipes()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def close_pipes(self) -> None:
        if self._requests >= 0:
            os.close(self._requests)
            self._requests = -1
        if self._responses >= 0:
            os.close(self._responses)
            self._responses = -1


class _Pool:
    """The warm workers of one function: grows on demand up to `cap`, keeps idle ones."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.idle: list[tuple[int, _Worker]] = []  # (code generation, worker)
        self.size = 0  # live workers: idle, busy and starting
        self.starting = 0  # started in the background, not ready yet
        self.generation = 0
        self.code_signature: CodeSignature | None = None
        self.closed = False
        self.cond = threading.Condition()

    def acquire(self, start: Callable[[], _Worker]) -> tuple[int, _Worker, bool]:
        """A warm idle worker of the current code, or the first of the function's workers,
        started here (cold: True). When every worker is busy and the cap allows, one more is
        started in the background, and this waits for whichever worker is idle first: a busy
        one coming free after a few milliseconds, or the new one after its init."""
        stale: list[_Worker] = []
        try:
            with self.cond:
                while True:
                    if self.closed:
                        raise LambdaServiceError(
                            "Lambda.ServiceException", "The local runtime is stopping."
                        )
                    while self.idle:
                        generation, worker = self.idle.pop()
                        if generation == self.generation and worker.alive():
                            return generation, worker, False
                        stale.append(worker)
                        self.size -= 1
                    if self.size == 0:
                        self.size += 1
                        generation = self.generation
                        break
                    if self.size < self.cap and not self.starting:
                        self.size += 1
                        self.starting += 1
                        threading.Thread(
                            target=self._start_in_background,
                            args=(self.generation, start),
                            name="lambda-worker-start",
                            daemon=True,
                        ).start()
                    self.cond.wait()
        finally:
            for worker in stale:
                worker.stop()
        try:
            return generation, start(), True
        except BaseException:
            with self.cond:
                self.size -= 1
                self.cond.notify()
            raise

    def _start_in_background(self, generation: int, start: Callable[[], _Worker]) -> None:
        worker: _Worker | None = None
        try:
            worker = start()
            ready = worker.ready(INIT_SECONDS)
        except (LambdaServiceError, TimeoutError, OSError):
            ready = False
        with self.cond:
            self.starting -= 1
            keep = ready and not self.closed and generation == self.generation
            if keep and worker is not None:
                self.idle.append((generation, worker))
            else:
                self.size -= 1
            # Every waiter: one takes the new worker; after a failed start, one may start again.
            self.cond.notify_all()
        if worker is not None and not keep:
            worker.kill()

    def release(self, generation: int, worker: _Worker, healthy: bool) -> None:
        with self.cond:
            keep = healthy and not self.closed and generation == self.generation
            if keep:
                self.idle.append((generation, worker))
            else:
                self.size -= 1
            self.cond.notify()
        if keep:
            return
        if healthy:
            worker.stop()
        else:
            worker.kill()

    def retire(self) -> list[_Worker]:
        """Start a new code generation; returns the old idle workers, for the caller to stop.
        Busy ones are stopped when they are released."""
        with self.cond:
            self.generation += 1
            idle = [worker for _, worker in self.idle]
            self.size -= len(idle)
            self.idle = []
            self.cond.notify_all()
        return idle

    def close(self) -> list[_Worker]:
        with self.cond:
            self.closed = True
        return self.retire()


def code_signature(root: Path) -> CodeSignature:
    """Changes whenever a file under root is added, removed or modified (bytecode aside)."""
    newest = count = total = 0
    for directory, subdirs, files in os.walk(root):
        # Python writes __pycache__ when a worker imports: that is not a code change.
        subdirs[:] = [d for d in subdirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith((".pyc", ".pyo")):
                continue
            try:
                stat = os.stat(os.path.join(directory, name))
            except OSError:
                continue  # removed while we walked: the next check sees it
            newest = max(newest, stat.st_mtime_ns)
            count += 1
            total += stat.st_size
    return newest, count, total


class LambdaRunner:
    def __init__(
        self,
        app: Application,
        base_env: dict[str, str],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        output: int | IO[Any] | None = None,
    ) -> None:
        """base_env: what every function sees besides its own variables; read when a worker
        starts, so it may be filled in after this is built (the server does, once its port is
        bound). concurrency: workers per function at most. output: where the functions'
        stdout and stderr go (a file or descriptor; default: the runtime's own)."""
        self.app = app
        self.base_env = base_env
        self.concurrency = max(1, concurrency)
        self.output = output
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}
        self._code_checks: dict[Path, tuple[float, CodeSignature]] = {}
        self._closed = False
        # Workers exit by themselves when this process dies; this stops them politely before.
        # weakref.finalize also runs at interpreter exit.
        self._finalizer = weakref.finalize(self, LambdaRunner._close_pools, self._pools)

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
        pool = self._pool(fn)
        self._pick_up_code_changes(fn, pool)
        request_id = str(uuid.uuid4())
        trace = f"Root=1-{int(time.time()):08x}-{request_id.replace('-', '')[:24]};Sampled=0"
        request = {
            "requestId": request_id,
            "event": payload,
            "remainingMs": fn.timeout * 1000,
            "arn": fn.arn,
            "traceId": trace,
        }
        # Serialised before a worker is taken: an event that is not JSON is the caller's bug.
        line = json.dumps(request).encode() + b"\n"
        if len(line) > MAX_PAYLOAD_BYTES and len(json.dumps(payload).encode()) > MAX_PAYLOAD_BYTES:
            raise LambdaServiceError(
                "Lambda.RequestTooLargeException",
                f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction "
                "operation",
            )
        generation, worker, cold = pool.acquire(lambda: self._start_worker(fn))
        healthy = False
        try:
            if cold and not worker.ready(INIT_SECONDS):
                raise self._exit_error(request_id, worker)
            response, size = worker.call(line, fn.timeout)
            if response is None:
                raise self._exit_error(request_id, worker)
            # A failed init ends its worker: the next invocation initialises afresh.
            healthy = not str(response.get("errorType", "")).startswith(
                ("Runtime.ImportModuleError", "Runtime.HandlerNotFound")
            )
        except TimeoutError:
            raise LambdaSandboxError(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {fn.timeout:.2f} seconds",
            ) from None
        finally:
            pool.release(generation, worker, healthy)
        if "errorType" in response:
            raise LambdaFunctionError(
                str(response["errorType"]),
                str(response.get("errorMessage", "")),
                list(response.get("stackTrace") or []),
            )
        result = response.get("result")
        # The response line holds the result: only a line over the limit needs the result
        # serialised again to be measured (most are a few hundred bytes).
        if size > MAX_PAYLOAD_BYTES and len(json.dumps(result).encode()) > MAX_PAYLOAD_BYTES:
            # Lambda's own words, its odd figure included.
            raise LambdaFunctionError(
                "Function.ResponseSizeTooLarge",
                "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                [],
            )
        return result

    def close(self) -> None:
        """Stop every worker; invocations after this fail with Lambda.ServiceException."""
        with self._lock:
            self._closed = True
        self._finalizer()

    def idle_workers(self, name: str) -> list[int]:
        """Process ids of a function's idle workers (for tests and diagnostics)."""
        pool = self._pools.get(self.function(name).logical_id)
        if pool is None:
            return []
        with pool.cond:
            return [worker.process.pid for _, worker in pool.idle]

    def environment(self, fn: Function) -> dict[str, str]:
        """Exactly what a worker of fn starts with, composed as Lambda composes it."""
        stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        return {
            # The host's PATH: a function may start programs, as Lambda's PATH lets it.
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            **self.base_env,
            **fn.environment,
            "_HANDLER": fn.handler,
            "LAMBDA_TASK_ROOT": str(fn.code_uri),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
        }

    def _pool(self, fn: Function) -> _Pool:
        with self._lock:
            if self._closed:
                raise LambdaServiceError(
                    "Lambda.ServiceException", "The local runtime is stopping."
                )
            pool = self._pools.get(fn.logical_id)
            if pool is None:
                pool = self._pools[fn.logical_id] = _Pool(self.concurrency)
            return pool

    def _start_worker(self, fn: Function) -> _Worker:
        try:
            return _Worker(fn, self.environment(fn), self.output)
        except OSError as error:
            raise LambdaServiceError(
                "Lambda.ServiceException", f"Could not start {fn.logical_id}: {error}"
            ) from error

    @staticmethod
    def _exit_error(request_id: str, worker: _Worker) -> LambdaSandboxError:
        return LambdaSandboxError(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: "
            f"{worker.exit_description()}",
        )

    def _pick_up_code_changes(self, fn: Function, pool: _Pool) -> None:
        now = time.monotonic()
        with self._lock:
            checked = self._code_checks.get(fn.code_uri)
        if checked is None or now - checked[0] >= CODE_CHECK_SECONDS:
            # Outside the lock: walking one CodeUri must not hold up the other functions.
            signature = code_signature(fn.code_uri)
            with self._lock:
                self._code_checks[fn.code_uri] = (now, signature)
        else:
            signature = checked[1]
        with pool.cond:
            changed = pool.code_signature is not None and pool.code_signature != signature
            pool.code_signature = signature
        if changed:
            for worker in pool.retire():
                worker.stop()

    @staticmethod
    def _close_pools(pools: dict[str, _Pool]) -> None:
        stopping = [worker for pool in list(pools.values()) for worker in pool.close()]
        for worker in stopping:
            worker.close_pipes()  # all first, so that they exit in parallel
        for worker in stopping:
            worker.stop()
