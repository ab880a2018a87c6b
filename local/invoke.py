"""`python -m local invoke FunctionName -e event.json`: one function, once, as `sam local invoke`.

The function runs with its environment from template.yaml (and --parameter-overrides,
--env-vars, exactly as `python -m local` gives it) through the runtime's LambdaRunner; no HTTP
server is started. Its result JSON goes to stdout; its logs and metrics go to stderr, so the
output can be piped to `jq`. A function error prints Lambda's error JSON
(errorType, errorMessage, stackTrace) and exits 1, as sam does.

What the function reaches: its contact store (SQLite under --data-dir by default, the same file
a running `python -m local` with the same --data-dir uses), and for Step Functions and End User
Messaging the runtime at --endpoint-url (default http://127.0.0.1:$PORT, i.e. the one `make run`
starts). Without a runtime there, only the functions that call no AWS API succeed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from local.runtime.config import (
    add_dynamodb_argument,
    add_template_arguments,
    endpoint_url,
    load_env_vars,
    parse_parameter_overrides,
    with_dynamodb_store,
)

PROG = "python -m local invoke"


class UsageError(Exception):
    """The command line or its files are wrong; the message is one sentence."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Invoke one function of template.yaml once, as `sam local invoke` does, "
        "and print its result JSON.",
    )
    parser.add_argument("function", metavar="FunctionName", help="the function's logical id")
    parser.add_argument(
        "-e",
        "--event",
        metavar="PATH",
        help="JSON event file ('-' reads stdin); default: an empty event {}",
    )
    add_template_arguments(parser)
    parser.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        default=f"http://127.0.0.1:{os.environ.get('PORT') or 8000}",
        metavar="URL",
        help="the running local runtime that the function's Step Functions and End User "
        "Messaging calls go to (default: http://127.0.0.1:$PORT, port 8000 unless PORT is set)",
    )
    add_dynamodb_argument(
        parser,
        "contacts in DynamoDB at URL instead of SQLite (tables must exist: "
        "`python -m local --dynamodb-endpoint URL` creates them)",
    )
    return parser.parse_args(argv)


def read_event(path: str | None, stdin: TextIO) -> Any:
    if path is None:
        return {}
    try:
        text = stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the event file {path}: {error.strerror}") from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise UsageError(f"the event in {path} is not JSON: {error}") from error


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[TextIO]:
    """Everything written to stdout meanwhile (handler logs, EMF metrics, worker processes
    started meanwhile, which inherit descriptor 1) goes to stderr; yields the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    real = os.fdopen(saved, "w", encoding="utf-8", closefd=True)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield real
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        real.close()


def invoke(args: argparse.Namespace, out: TextIO) -> int:
    """Runs the invocation; writes the result or the error JSON to `out`; returns the status."""
    from local.runtime.lambdas import LambdaRunner, LambdaSandboxError
    from local.runtime.server import aws_environment
    from local.runtime.template import TemplateError, load_application
    from local.stepfunctions import LambdaFunctionError, LambdaServiceError

    if not args.template.exists():
        raise UsageError(f"no template at {args.template}")
    event = read_event(args.event, sys.stdin)
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        overrides = parse_parameter_overrides(args.parameter_overrides)
        env_vars = load_env_vars(args.env_vars, data_dir)
        if args.dynamodb_endpoint:
            env_vars = with_dynamodb_store(env_vars)
        app = load_application(args.template, overrides, env_vars)
    except (argparse.ArgumentTypeError, TemplateError, ValueError) as error:
        raise UsageError(str(error)) from error

    runner = LambdaRunner(app, aws_environment(args.endpoint_url, args.dynamodb_endpoint))
    try:
        runner.function(args.function)
    except LambdaServiceError as error:
        names = ", ".join(sorted(app.functions))
        raise UsageError(f"{args.function} is not a function of the template ({names})") from error
    try:
        result = runner.invoke(args.function, event)
    except LambdaFunctionError as error:
        # The body Lambda returns for a function error, and that sam local invoke prints.
        body = {
            "errorType": error.error_type,
            "errorMessage": error.error_message,
            "stackTrace": error.stack_trace,
        }
        out.write(json.dumps(body) + "\n")
        return 1
    except LambdaSandboxError as error:
        # Timed out or died: Lambda's own body (errorType Sandbox.Timedout, Runtime.ExitError).
        out.write(json.dumps(error.payload) + "\n")
        return 1
    except LambdaServiceError as error:
        out.write(json.dumps({"errorType": error.error, "errorMessage": error.cause}) + "\n")
        return 1
    finally:
        runner.close()
    out.write(json.dumps(result) + "\n")
    return 0


def main(argv: list[str]) -> int:
    import logging

    args = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOCAL_LOG_LEVEL", "WARNING"),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        with stdout_to_stderr() as out:
            status = invoke(args, out)
            out.flush()
    except UsageError as error:
        # Status 2, as argparse uses: the command is wrong, not the function.
        print(f"{PROG}: error: {error}", file=sys.stderr, flush=True)
        return 2
    return status
