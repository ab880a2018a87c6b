"""ValidateStateMachineDefinition: its parameters as botocore's model has them, its answer."""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from . import ERROR, WARNING, validate

TYPES = ("STANDARD", "EXPRESS")
SEVERITIES = (ERROR, WARNING)
MAX_RESULTS = 100
MAX_DEFINITION = 1048576


def _constraint(value: Any, member: str, constraint: str) -> ApiError:
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must {constraint}",
    )


def validate_definition(req: dict[str, Any]) -> dict[str, Any]:
    definition = req.get("definition")
    if definition is None:
        raise ApiError(
            "ValidationException",
            "1 validation error detected: Value null at 'definition' failed to satisfy "
            "constraint: Member must not be null",
        )
    if isinstance(definition, str) and not 1 <= len(definition) <= MAX_DEFINITION:
        bound = (
            "have length greater than or equal to 1"
            if not definition
            else f"have length less than or equal to {MAX_DEFINITION}"
        )
        # AWS does not echo a sensitive member's value
        raise _constraint("***", "definition", bound)
    machine_type = req.get("type") or "STANDARD"
    if machine_type not in TYPES:
        raise _constraint(machine_type, "type", "satisfy enum value set: [STANDARD, EXPRESS]")
    severity = req.get("severity") or ERROR
    if severity not in SEVERITIES:
        raise _constraint(severity, "severity", "satisfy enum value set: [ERROR, WARNING]")
    limit = req.get("maxResults")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)):
        raise _constraint(limit, "maxResults", "be an integer")
    if isinstance(limit, int) and limit > MAX_RESULTS:
        raise _constraint(limit, "maxResults", f"have value less than or equal to {MAX_RESULTS}")
    if isinstance(limit, int) and limit < 0:
        raise _constraint(limit, "maxResults", "have value greater than or equal to 0")
    limit = limit or MAX_RESULTS  # 0 means the default, as the model says

    _, diagnostics = validate(definition, machine_type)
    failed = any(d.severity == ERROR for d in diagnostics)
    shown = [d for d in diagnostics if severity == WARNING or d.severity == ERROR]
    # Errors first: a truncated answer still shows why the definition fails
    shown.sort(key=lambda d: d.severity != ERROR)
    return {
        "result": "FAIL" if failed else "OK",
        "diagnostics": [d.to_api() for d in shown[:limit]],
        "truncated": len(shown) > limit,
    }
