"""The tool's failures: one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import click

# Exit codes (docs/cli.md): 1 a failure, 2 bad usage (click's own), 3 an import with rejects.
FAILED = 1
USAGE = 2
SOME_REJECTED = 3


class CliError(click.ClickException):
    """A failure the user can act on; `message` is one sentence."""

    exit_code = FAILED

    def __init__(self, message: str, *, code: str | None = None, exit_code: int = FAILED) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = exit_code

    def format_message(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message
