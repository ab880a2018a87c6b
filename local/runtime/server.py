"""Assembles and runs the local runtime: template → Lambda runner, Step Functions, SMS, HTTP."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

from local.runtime.banner import banner_lines, export_line, template_parameters
from local.runtime.cognito import CognitoIdp
from local.runtime.config import RuntimeConfig, load_env_vars, with_dynamodb_store
from local.runtime.console import ExecutionWatcher, ReportingLambdaRunner, Session
from local.runtime.http_api import Runtime, make_server
from local.runtime.schedules import Scheduler
from local.runtime.security import WILDCARD_HOSTS, binds_beyond_loopback, generate_secret
from local.runtime.security import banner_lines as security_banner_lines
from local.runtime.sms_sandbox import SmsSandbox, protect_rules_from_template
from local.runtime.sns import SnsPublisher
from local.runtime.stepfunctions_backend import (
    EmbeddedStepFunctions,
    ExternalStepFunctions,
    StepFunctionsBackend,
)
from local.runtime.template import Application, load_application

log = logging.getLogger("local")


# Region and credentials of every handler's boto3 and of the runtime's own DynamoDB client:
# DynamoDB Local keeps one database per access key and region (unless -sharedDb), so the
# runtime must create the tables under the same ones the functions will read them with.
REGION = "us-east-1"
ACCESS_KEY_ID = "local"
SECRET_ACCESS_KEY = "local"


class StartupError(Exception):
    """Something outside the runtime is not as the options say; the message is one sentence."""


def aws_environment(endpoint: str, dynamodb_endpoint: str | None = None) -> dict[str, str]:
    """What every handler sees besides its own variables: boto3 aimed at this runtime."""
    env = {
        "AWS_ENDPOINT_URL_SFN": endpoint,
        "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2": endpoint,
        # botocore's name for cognito-idp (its service id, "Cognito Identity Provider").
        "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": endpoint,
        # Lambda's Invoke API (the webhook dispatcher's nudge is an asynchronous Invoke).
        "AWS_ENDPOINT_URL_LAMBDA": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        # As `sam local` does; Powertools Tracer then stays quiet without an X-Ray daemon.
        "AWS_SAM_LOCAL": "true",
    }
    if dynamodb_endpoint:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    return env


def invokes_functions(app: Application) -> bool:
    """Whether a function is given another function's name or ARN in its environment (so its
    code may call Lambda's Invoke API on it, as WEBHOOK_DISPATCH_FUNCTION is)."""
    names = {name for fn in app.functions.values() for name in (fn.logical_id, fn.arn)}
    return any(
        value in names and value != fn.logical_id and value != fn.arn
        for fn in app.functions.values()
        for value in fn.environment.values()
    )


def prepare_dynamodb(endpoint: str, template: Path, parameters: dict[str, str]) -> list[str]:
    """Create the template's tables at `endpoint` if absent; return the names created.

    Raises StartupError when the endpoint does not answer as DynamoDB does.
    """
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    from local.runtime.dynamodb_tables import ensure_tables

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        # Fail fast at start-up: a dead endpoint is a typo or a server not started yet.
        config=Config(connect_timeout=2, read_timeout=10, retries={"total_max_attempts": 2}),
    )
    try:
        return ensure_tables(client, template, parameter_overrides=parameters)
    except ClientError as error:
        detail = error.response.get("Error", {})
        code = str(detail.get("Code") or "an error")
        message = " ".join(str(detail.get("Message") or "").split())
        if code.isdigit() or message.startswith("<"):
            # An HTTP status and an HTML page: some other server listens there.
            raise StartupError(
                f"{endpoint} answered HTTP {code}, not as DynamoDB does; is the URL right?"
            ) from error
        raise StartupError(
            f"DynamoDB at {endpoint} answered {code} ({message[:200]}) when asked for the tables."
        ) from error
    except BotoCoreError as error:
        raise StartupError(
            f"no DynamoDB answers at {endpoint} ({error}); start DynamoDB Local or moto_server "
            "there, or leave out --dynamodb-endpoint."
        ) from error
    except TimeoutError as error:
        raise StartupError(f"DynamoDB at {endpoint}: {error}") from error


def contact_stores(app: Application, dynamodb_endpoint: str | None) -> list[str]:
    """Where the functions keep contacts, one line per distinct store, for the banner."""
    stores: list[str] = []
    for fn in app.functions.values():
        kind = fn.environment.get("CONTACT_STORE")
        if kind == "dynamodb":
            where = dynamodb_endpoint or "AWS (no --dynamodb-endpoint)"
            line = f"DynamoDB at {where}, table {fn.environment.get('CONTACTS_TABLE', '?')}"
        elif kind == "sqlite":
            line = f"SQLite {fn.environment.get('SQLITE_PATH') or '(no SQLITE_PATH)'}"
        else:
            continue
        if line not in stores:
            stores.append(line)
    return stores


def confirm_keywords(app: Application) -> list[str]:
    """The words the functions take as YES (their CONFIRM_KEYWORDS), for the terminal's lines."""
    for fn in app.functions.values():
        if words := fn.environment.get("CONFIRM_KEYWORDS"):
            return [w.strip() for w in words.split(",") if w.strip()]
    return []


ADMIN_USER = "admin"
ADMIN_GROUP = "agent"


def console_sign_in(cognito: CognitoIdp | None, app: Application, endpoint: str) -> str | None:
    """The console's one-time sign-in link for `admin`, created in the agent group at the first
    start (with a password nobody is told). Each start prints a new link; older ones stop
    working. None when the template has no user pool with an agent group and a client."""
    if cognito is None:
        return None
    for pool in app.user_pools.values():
        if ADMIN_GROUP not in pool.groups or not pool.clients:
            continue
        if cognito.ensure_user(pool.pool_id, ADMIN_USER, ADMIN_GROUP):
            log.info("created the console user %s in group %s", ADMIN_USER, ADMIN_GROUP)
        client = next(iter(pool.clients.values()))
        code = cognito.create_sign_in_link(pool.pool_id, ADMIN_USER, client.client_id)
        return f"{endpoint}/sandbox/sign-in/{code}"
    return None


def with_log_line(lines: list[str], log_path: Path) -> list[str]:
    """The banner with the log file's line after the data directory's (or at the end)."""
    at = next((i + 1 for i, line in enumerate(lines) if line.startswith("  data ")), len(lines))
    return [*lines[:at], f"  log              {log_path}", *lines[at:]]


def run(config: RuntimeConfig) -> None:
    data_dir = config.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # First: from here on, the runtime's logging goes to the log file, not the terminal.
    session = Session(data_dir, verbose=config.verbose, level=config.log_level)
    try:
        _run(config, data_dir, session)
    finally:
        session.close()


def _run(config: RuntimeConfig, data_dir: Path, session: Session) -> None:
    env_vars = load_env_vars(config.env_vars, data_dir)
    if config.dynamodb_endpoint:
        env_vars = with_dynamodb_store(env_vars)
    app = load_application(config.template, config.parameter_overrides, env_vars)
    if config.dynamodb_endpoint:
        # Before the port is bound: a runtime that cannot keep contacts serves nothing.
        created = prepare_dynamodb(
            config.dynamodb_endpoint, config.template, config.parameter_overrides
        )
        if created:
            log.info("created DynamoDB table(s) %s", ", ".join(created))
    if not app.topics:
        raise SystemExit("the template declares no SNS topic for inbound texts")
    topic_id = config.two_way_topic or next(iter(app.topics))
    if keywords := confirm_keywords(app):
        session.console.confirm_keywords = tuple(keywords)

    base_env: dict[str, str] = {}
    runner = ReportingLambdaRunner(
        app, base_env, console=session.console, output=session.function_output
    )
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
        # The template's protect configuration, as AWS applies it to the set a send names.
        protect_rules=protect_rules_from_template(config.template, config.parameter_overrides),
    )
    exposed = binds_beyond_loopback(config.host)
    # Beyond loopback, everything but the public form needs a secret: the one given, or one
    # made for this run and shown in the banner.
    secret = config.secret or (generate_secret() if exposed else None)
    cognito = (
        CognitoIdp(data_dir / "cognito.db", app.user_pools.values()) if app.user_pools else None
    )
    runtime = Runtime(
        app,
        runner,
        stepfunctions,
        sandbox,
        config.web_root,
        bind_host=config.host,
        secret=secret,
        cognito=cognito,
        # Also served when a function may invoke another (the webhook nudge), as Lambda would.
        serve_lambda_invoke=bool(stepfunctions.endpoint) or invokes_functions(app),
    )
    server = make_server(runtime, config.host, config.port)
    host, port = server.server_address[:2]
    # The functions call back over loopback: a wildcard address is not one to connect to.
    local_host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    endpoint = (
        f"http://{local_host}:{port}" if ":" not in local_host else f"http://[{local_host}]:{port}"
    )
    base_env.update(aws_environment(endpoint, config.dynamodb_endpoint))
    if stepfunctions.endpoint:
        base_env["AWS_ENDPOINT_URL_SFN"] = stepfunctions.endpoint

    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    stepfunctions.deploy(app.state_machines.values())
    # Only now: resumed executions call handlers, which call back into the server.
    stepfunctions.start()
    sandbox.start()
    # The template's Schedule events (the webhook dispatcher's sweep).
    scheduler = Scheduler(app.schedules, runner.invoke)
    scheduler.start()
    watcher = (
        None
        if stepfunctions.endpoint
        else ExecutionWatcher(data_dir / "stepfunctions.db", session.console)
    )
    if watcher:
        watcher.start()

    sign_in = console_sign_in(cognito, app, endpoint)
    lines = banner_lines(
        endpoint=endpoint,
        app=app,
        parameters=template_parameters(config.template, config.parameter_overrides),
        stores=contact_stores(app, config.dynamodb_endpoint),
        data_dir=data_dir,
        export=export_line(REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        external_stepfunctions=stepfunctions.endpoint,
        warnings=security_banner_lines(config.host, endpoint, secret),
        console_sign_in=sign_in,
    )
    print("\n".join(with_log_line(lines, session.log_path)), flush=True)
    if exposed:
        # The banner's warning says it on the terminal; this records it in the log file.
        log.info("--host %s: this port is reachable from other machines", config.host)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    print("Stopping…", flush=True)
    if watcher:
        watcher.stop()
    scheduler.stop()
    stepfunctions.answer_waiting_polls()
    server.shutdown()
    sandbox.stop()
    stepfunctions.stop()
    # Last: the engine and the sandbox may be finishing an invocation until they stop.
    runner.close()


def main(argv: list[str] | None = None) -> None:
    from local.runtime.config import parse_args

    # Until run() sends logging to <data-dir>/runtime.log, problems go to the terminal.
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    config = parse_args(argv)
    if not Path(config.template).exists():
        raise SystemExit(f"no template at {config.template}")
    try:
        run(config)
    except StartupError as error:
        # Exit status 2, as argparse uses for bad options: the setup is wrong, not the code.
        print(f"python -m local: error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
