"""`optin`: the command group, the target options, and one-line errors for every failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import optin_cli  # noqa: F401 - puts functions/ and the checkout on sys.path first
from optin_cli.errors import CliError
from optin_cli.target import Target, resolve


class OptinGroup(click.Group):
    """Turns every exception a command lets through into `optin: error: …` and exit 1: a
    traceback helps nobody who typed a command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            raise click.Abort() from None
        except Exception as error:  # the one place every failure is worded
            raise translate(error) from None


def translate(error: Exception) -> CliError:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from optin.domain.errors import DomainError

    if isinstance(error, NoCredentialsError):
        return CliError(
            "No AWS credentials: configure them as for the AWS CLI.", code="no_credentials"
        )
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return CliError(str(detail.get("Message") or error), code=str(detail.get("Code")))
    if isinstance(error, BotoCoreError):
        return CliError(str(error), code="aws_error")
    if isinstance(error, DomainError):
        return CliError(error.message, code=error.code)
    if isinstance(error, OSError):
        return CliError(f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    return CliError(f"Unexpected {type(error).__name__}: {error}", code="unexpected")


def _show(self: click.ClickException, file: Any = None) -> None:
    click.echo(f"optin: error: {self.format_message()}", err=True)


# click prints "Error: …"; ours name the tool, and keep to one line.
click.ClickException.show = _show  # type: ignore[method-assign]


@click.group(cls=OptinGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--local",
    "local_",
    is_flag=True,
    help="Act on the local runtime (the default): its API at http://127.0.0.1:$PORT (8000) "
    "and its data directory.",
)
@click.option(
    "--stack", metavar="NAME", help="Act on a deployed stack (its CloudFormation outputs)."
)
@click.option("--region", metavar="REGION", help="The stack's region (else the AWS CLI's).")
@click.option(
    "--api-url",
    metavar="URL",
    help="The partner API's base URL (else the target's; OPTIN_API_URL).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="OPTIN_DATA_DIR",
    help="The local runtime's data directory (default .local in the checkout; OPTIN_DATA_DIR).",
)
@click.option(
    "--dynamodb-endpoint",
    metavar="URL",
    help="The DynamoDB a local runtime was started with (make run DYNAMODB_ENDPOINT=URL).",
)
@click.option(
    "--api-key",
    envvar="OPTIN_API_KEY",
    metavar="KEY",
    help="The partner API key (or OPTIN_API_KEY) for signup, status, import, webhook.",
)
@click.version_option(package_name="sms-optin", prog_name="optin")
@click.pass_context
def cli(
    ctx: click.Context,
    local_: bool,
    stack: str | None,
    region: str | None,
    api_url: str | None,
    data_dir: Path | None,
    dynamodb_endpoint: str | None,
    api_key: str | None,
) -> None:
    """Sign numbers up, follow them, manage keys and console users, import contacts: against
    the local runtime or a deployed stack. docs/cli.md has an example of each command."""
    if local_ and stack:
        raise click.UsageError("Give --local or --stack NAME, not both.")
    if stack and dynamodb_endpoint:
        raise click.UsageError("--dynamodb-endpoint is for the local runtime, not --stack.")

    def target() -> Target:
        return resolve(
            stack=stack,
            region=region,
            api_url=api_url,
            data_dir=data_dir,
            dynamodb_endpoint=dynamodb_endpoint,
        )

    ctx.obj = Context(target, api_key, stack)


class Context:
    """What every command receives: the target, built on first use (a --stack target reads
    CloudFormation, which `--help` must not), and the API key."""

    def __init__(self, build: Any, api_key: str | None, stack: str | None = None) -> None:
        self._build = build
        self.stack = stack
        self._target: Target | None = None
        self.api_key = api_key

    @property
    def target(self) -> Target:
        if self._target is None:
            self._target = self._build()
        return self._target

    def client(self) -> Any:
        from optin_cli.http import Client

        return Client(self.target.api_url, self.api_key)


def _register() -> None:
    from optin_cli import importing, keys, lists, pinpoint, reply, signups, users, webhook

    for module in (signups, lists, keys, users, importing, pinpoint, reply, webhook):
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main() -> None:
    cli.main(prog_name="optin")
