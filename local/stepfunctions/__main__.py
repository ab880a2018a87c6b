"""python -m local.stepfunctions --port 8083 --db PATH [--mock-config FILE]
[--lambda-endpoint URL]"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import pathlib
import signal
import sys
import threading

from .lambda_endpoint import LambdaEndpointInvoker
from .mocks import MockConfigError
from .server import Server
from .service import DEFAULT_WORKERS

# Step Functions Local's JAR reads this file from the working directory when SFN_MOCK_CONFIG
# is not set; we do the same so a project laid out for it works unchanged.
DEFAULT_MOCK_CONFIG = pathlib.Path("MockConfigFile.json")


def mock_config_path(flag: pathlib.Path | None) -> pathlib.Path | None:
    """--mock-config, else $SFN_MOCK_CONFIG, else ./MockConfigFile.json if present."""
    if flag is not None:
        return flag
    env = os.environ.get("SFN_MOCK_CONFIG")
    if env:
        return pathlib.Path(env)
    return DEFAULT_MOCK_CONFIG if DEFAULT_MOCK_CONFIG.is_file() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Local Step Functions JSON API")
    ap.add_argument("--port", type=int, default=8083)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--db", type=pathlib.Path, default=pathlib.Path(".local/stepfunctions.db"))
    ap.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    ap.add_argument(
        "--mock-config",
        type=pathlib.Path,
        default=None,
        help="Step Functions Local MockConfigFile; start executions on <stateMachineArn>#<Case>"
        " (default: $SFN_MOCK_CONFIG, else ./MockConfigFile.json if it exists)",
    )
    ap.add_argument(
        "--lambda-endpoint",
        default=os.environ.get("LAMBDA_ENDPOINT") or None,
        metavar="URL",
        help="call Lambda tasks through Lambda's Invoke API at URL, as the Step Functions Local "
        "container does with LAMBDA_ENDPOINT (default: $LAMBDA_ENDPOINT; without it, Lambda "
        "tasks fail unless a test case mocks them)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    mocks = mock_config_path(args.mock_config)
    try:
        server = Server(
            args.db,
            port=args.port,
            host=args.host,
            workers=args.workers,
            mock_config=mocks,
            invoker=LambdaEndpointInvoker(args.lambda_endpoint) if args.lambda_endpoint else None,
        ).start()
    except MockConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"Step Functions API on {server.url} (db {args.db})", flush=True)
    if mocks is not None:
        print(f"Mocked test cases from {mocks}", flush=True)
    if args.lambda_endpoint:
        print(f"Lambda tasks through the Invoke API at {args.lambda_endpoint}", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
