"""Assembles and runs the local runtime: template → Lambda runner, Step Functions, SMS, HTTP."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path

from local.runtime.config import RuntimeConfig, load_env_vars
from local.runtime.http_api import Runtime, make_server
from local.runtime.lambdas import LambdaRunner
from local.runtime.sms_sandbox import SmsSandbox
from local.runtime.sns import SnsPublisher
from local.runtime.stepfunctions_backend import (
    EmbeddedStepFunctions,
    ExternalStepFunctions,
    StepFunctionsBackend,
)
from local.runtime.template import load_application

log = logging.getLogger("local")


def aws_environment(endpoint: str) -> dict[str, str]:
    """What every handler sees besides its own variables: boto3 aimed at this runtime."""
    return {
        "AWS_ENDPOINT_URL_SFN": endpoint,
        "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": endpoint,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # As `sam local` does; Powertools Tracer then stays quiet without an X-Ray daemon.
        "AWS_SAM_LOCAL": "true",
    }


def run(config: RuntimeConfig) -> None:
    data_dir = config.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app = load_application(
        config.template,
        config.parameter_overrides,
        load_env_vars(config.env_vars, data_dir),
    )
    if not app.topics:
        raise SystemExit("the template declares no SNS topic for inbound texts")
    topic_id = config.two_way_topic or next(iter(app.topics))

    base_env: dict[str, str] = {}
    runner = LambdaRunner(app, base_env)
    stepfunctions: StepFunctionsBackend = (
        ExternalStepFunctions(config.stepfunctions_endpoint)
        if config.stepfunctions_endpoint
        else EmbeddedStepFunctions(data_dir / "stepfunctions.db", runner)
    )
    origination = next(
        (f.environment["ORIGINATION_IDENTITY"] for f in app.functions.values()
         if "ORIGINATION_IDENTITY" in f.environment),
        "+12065550142",
    )  # fmt: skip
    sandbox = SmsSandbox(
        data_dir / "sms.db",
        origination,
        SnsPublisher(app, runner, topic_id),
        send_delay_seconds=config.sms_send_delay,
    )
    runtime = Runtime(app, runner, stepfunctions, sandbox, config.web_root)
    server = make_server(runtime, config.host, config.port)
    host, port = server.server_address[:2]
    endpoint = f"http://{host}:{port}"
    base_env.update(aws_environment(endpoint))
    if stepfunctions.endpoint:
        base_env["AWS_ENDPOINT_URL_SFN"] = stepfunctions.endpoint

    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    stepfunctions.deploy(app.state_machines.values())
    # Only now: resumed executions call handlers, which call back into the server.
    stepfunctions.start()
    sandbox.start()

    print(f"Local runtime ready: {endpoint}/", flush=True)
    print(f"  sign-up form     {endpoint}/", flush=True)
    print(f"  phone simulator  {endpoint}/simulator.html", flush=True)
    for route in app.routes:
        print(f"  API {route.method:6} {route.path:28} → {route.function_id}", flush=True)
    for machine in app.state_machines.values():
        print(f"  state machine    {machine.arn}", flush=True)
    if stepfunctions.endpoint:
        print(f"  Step Functions   {stepfunctions.endpoint} (external)", flush=True)
    print(f"  Lambda invoke    {endpoint}/2015-03-31/functions/<name>/invocations", flush=True)
    print(f"  data             {data_dir}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("Stopping…", flush=True)
    server.shutdown()
    sandbox.stop()
    stepfunctions.stop()


def main(argv: list[str] | None = None) -> None:
    from local.runtime.config import parse_args

    logging.basicConfig(
        level=os.environ.get("LOCAL_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = parse_args(argv)
    if not Path(config.template).exists():
        raise SystemExit(f"no template at {config.template}")
    run(config)
