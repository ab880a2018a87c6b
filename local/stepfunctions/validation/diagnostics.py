"""What a check finds: AWS's diagnostic (severity, code, message, location) and the
InvalidDefinition sentence CreateStateMachine wraps the errors in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ERROR = "ERROR"
WARNING = "WARNING"

# AWS's diagnostic codes (API reference, ValidateStateMachineDefinitionDiagnostic)
INVALID_JSON_DESCRIPTION = "INVALID_JSON_DESCRIPTION"
SCHEMA_VALIDATION_FAILED = "SCHEMA_VALIDATION_FAILED"
# Not in the API reference's list, but what AWS answers for JSONata (recorded on AWS)
INVALID_JSONATA_EXPRESSION = "INVALID_JSONATA_EXPRESSION"
UNSUPPORTED_JSONATA_EXPRESSION = "UNSUPPORTED_JSONATA_EXPRESSION"
MISSING_TRANSITION_TARGET = "MISSING_TRANSITION_TARGET"
MISSING_END_STATE = "MISSING_END_STATE"
DUPLICATE_STATE_NAME = "DUPLICATE_STATE_NAME"
INVALID_STATE_NAME = "INVALID_STATE_NAME"
TOO_DEEPLY_NESTED = "TOO_DEEPLY_NESTED"
INVALID_LABEL_NAME = "INVALID_LABEL_NAME"
DUPLICATE_LABEL_NAME = "DUPLICATE_LABEL_NAME"
NO_DOLLAR = "NO_DOLLAR"
NO_PATH = "NO_PATH"
PASS_RESULT_IS_STATIC = "PASS_RESULT_IS_STATIC"


@dataclass(frozen=True)
class Diagnostic:
    severity: str
    code: str
    message: str
    location: str | None = None

    def to_api(self) -> dict[str, Any]:
        out = {"severity": self.severity, "code": self.code, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        return out

    def sentence(self) -> str:
        # AWS writes "at null" when a finding has no location (MISSING_END_STATE)
        return f"{self.code}: {self.message} at {self.location}"


@dataclass
class Findings:
    """The diagnostics of one definition, in the order the checks found them."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, location: str | None) -> None:
        self.items.append(Diagnostic(ERROR, code, message, location))

    def schema(self, message: str, location: str | None) -> None:
        self.error(SCHEMA_VALIDATION_FAILED, message, location)

    def warning(self, code: str, message: str, location: str | None) -> None:
        self.items.append(Diagnostic(WARNING, code, message, location))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == ERROR]


def invalid_definition_message(errors: list[Diagnostic]) -> str:
    """CreateStateMachine's InvalidDefinition message, AWS's form:
    Invalid State Machine Definition: 'CODE: message at /path, CODE: ...'"""
    return "Invalid State Machine Definition: '" + ", ".join(d.sentence() for d in errors) + "'"
