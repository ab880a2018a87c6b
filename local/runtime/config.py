"""Command-line settings of the local runtime, in `sam local`'s own forms."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RuntimeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    template: Path = REPO_ROOT / "template.yaml"
    env_vars: Path | None = REPO_ROOT / "local" / "env.json"
    data_dir: Path = REPO_ROOT / ".local"
    web_root: Path = REPO_ROOT / "web"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    two_way_topic: str | None = None
    sms_send_delay: float = 0.0
    stepfunctions_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    secret: str | None = None
    # The terminal shows one line per event; verbose also echoes the structured log lines.
    verbose: bool = False
    log_level: str = "INFO"


def parse_parameter_overrides(tokens: list[str]) -> dict[str, str]:
    """Accepts both of SAM's spellings: Key=Value and ParameterKey=Key,ParameterValue=Value."""
    out: dict[str, str] = {}
    for token in tokens:
        if token.startswith("ParameterKey="):
            parts = dict(p.split("=", 1) for p in token.split(",", 1))
            out[parts["ParameterKey"]] = parts.get("ParameterValue", "")
        elif "=" in token:
            key, value = token.split("=", 1)
            out[key] = value
        else:
            raise argparse.ArgumentTypeError(f"parameter override {token!r} is not Key=Value")
    return out


def endpoint_url(text: str) -> str:
    """An http(s) URL with a host, without a trailing slash: what boto3 takes as endpoint_url."""
    parsed = urlsplit(text.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} has an invalid port") from error
    return text.strip().rstrip("/")


def add_template_arguments(parser: argparse.ArgumentParser) -> None:
    """The options `python -m local` and `python -m local invoke` share, in sam local's forms:
    which template, its parameters, the per-function environment and the data folder."""
    parser.add_argument("-t", "--template", type=Path, default=RuntimeConfig.template)
    parser.add_argument(
        "-n",
        "--env-vars",
        type=Path,
        default=RuntimeConfig.env_vars,
        help="sam local --env-vars JSON; relative *_PATH values resolve against --data-dir",
    )
    parser.add_argument("--data-dir", type=Path, default=RuntimeConfig.data_dir)
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="Key=Value",
        help="template parameters, e.g. ConfirmationWindowSeconds=120",
    )


def add_dynamodb_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        "--dynamodb-endpoint",
        type=endpoint_url,
        default=os.environ.get("LOCAL_DYNAMODB_ENDPOINT") or None,
        metavar="URL",
        help=help_text,
    )


def parse_args(argv: list[str] | None = None) -> RuntimeConfig:
    parser = argparse.ArgumentParser(
        prog="python -m local",
        description="Run template.yaml on this machine: Step Functions, Lambda, SMS sandbox, web.",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; beyond loopback (e.g. 0.0.0.0) every name is served and all "
        "but the sign-up form and its API need the shared secret (--secret)",
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("LOCAL_SECRET") or None,
        help="shared secret for a port bound beyond loopback (default: one made per run and "
        "printed in the banner); send it as X-Local-Secret, as AWS_ACCESS_KEY_ID, or open "
        "a page with ?local_secret=…",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    add_template_arguments(parser)
    parser.add_argument(
        "--two-way-topic",
        help="SNS topic (logical id) that inbound texts go to; default: the template's only topic",
    )
    parser.add_argument(
        "--stepfunctions-endpoint",
        default=os.environ.get("LOCAL_STEPFUNCTIONS_ENDPOINT") or None,
        metavar="URL",
        help="use the Step Functions at URL (e.g. the Step Functions Local container) instead "
        "of the embedded engine; start it with LAMBDA_ENDPOINT pointing at this runtime",
    )
    add_dynamodb_argument(
        parser,
        "keep contacts in DynamoDB at URL (DynamoDB Local, moto_server) instead of SQLite: "
        "creates the template's tables there if absent, runs the functions with "
        "CONTACT_STORE=dynamodb",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also echo the structured log lines (the functions' JSON logs and metrics, the "
        "runtime's logging) to stderr; they always go to <data-dir>/runtime.log. "
        "LOCAL_LOG_LEVEL=DEBUG does the same",
    )
    parser.add_argument(
        "--sms-send-delay",
        type=float,
        default=float(os.environ.get("LOCAL_SMS_SEND_DELAY", "0")),
        help=argparse.SUPPRESS,  # widens a crash window for the durability tests
    )
    args = parser.parse_args(argv)
    log_level = (os.environ.get("LOCAL_LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        parser.error(f"LOCAL_LOG_LEVEL={log_level!r} is not DEBUG, INFO, WARNING or ERROR")
    return RuntimeConfig(
        host=args.host,
        port=args.port,
        template=args.template,
        env_vars=args.env_vars,
        data_dir=args.data_dir,
        parameter_overrides=parse_parameter_overrides(args.parameter_overrides),
        two_way_topic=args.two_way_topic,
        sms_send_delay=args.sms_send_delay,
        stepfunctions_endpoint=args.stepfunctions_endpoint,
        # argparse applies endpoint_url to a string default too, so the variable is checked.
        dynamodb_endpoint=args.dynamodb_endpoint,
        secret=args.secret,
        verbose=args.verbose or log_level == "DEBUG",
        log_level=log_level,
    )


def load_env_vars(path: Path | None, data_dir: Path) -> dict[str, dict[str, str]]:
    if path is None or not path.exists():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected an object of function ids to variables")
    resolved: dict[str, dict[str, str]] = {}
    for scope, variables in raw.items():
        resolved[scope] = {}
        for key, value in (variables or {}).items():
            text = str(value)
            if key.endswith("_PATH") and text and not Path(text).is_absolute():
                text = str((data_dir / text).resolve())
            resolved[scope][key] = text
    return resolved


def with_dynamodb_store(env_vars: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The --env-vars overrides with every function's contact store switched to DynamoDB.

    The template already says CONTACT_STORE=dynamodb and names its table; the env file's
    local default (SQLite) is what --dynamodb-endpoint takes away, for every scope.
    """
    out = {scope: dict(variables) for scope, variables in env_vars.items()}
    for variables in out.values():
        variables.pop("CONTACT_STORE", None)
    out.setdefault("Parameters", {})["CONTACT_STORE"] = "dynamodb"
    return out
