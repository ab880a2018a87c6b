"""State machine versions and aliases: their ARNs, names, routing configurations, and the
version an alias picks for an execution."""

from __future__ import annotations

import random
import re
from typing import Any

from . import arns
from .errors import ApiError

MAX_VERSIONS = 1000  # per state machine (Step Functions quotas)
MAX_ALIASES = 100  # per state machine
MAX_DESCRIPTION = 256
# The model's CharacterRestrictedName: at least one non-digit, so it never reads as a version.
_ALIAS_NAME = re.compile(r"^(?=.*[a-zA-Z_\-.])[a-zA-Z0-9_\-.]{1,80}$")


def version_arn(sm_arn: str, number: int) -> str:
    return f"{sm_arn}:{number}"


def parse_version_arn(arn: object) -> tuple[str, int]:
    """(state machine ARN, version number); an ARN of anything else is InvalidArn."""
    sm_arn, qualifier = arns.split_qualifier(arn)
    if qualifier is None or not qualifier.isdigit():
        raise ApiError("InvalidArn", f"Invalid Arn: 'Not a state machine version ARN: {arn}'")
    return sm_arn, int(qualifier)


def parse_alias_arn(arn: object) -> tuple[str, str]:
    """(state machine ARN, alias name); an ARN of anything else is InvalidArn."""
    sm_arn, qualifier = arns.split_qualifier(arn)
    if qualifier is None or not _ALIAS_NAME.match(qualifier):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Not a state machine alias ARN: {arn}'")
    return sm_arn, qualifier


def check_alias_name(name: object) -> str:
    if not isinstance(name, str) or not _ALIAS_NAME.match(name):
        raise ApiError("InvalidName", f"Invalid Name: '{name}'")
    return name


def check_description(req: dict[str, Any], key: str) -> str | None:
    value = req.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > MAX_DESCRIPTION):
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value at '{key}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_DESCRIPTION}",
        )
    return value


def check_routing(routing: object) -> tuple[str, list[dict[str, Any]]]:
    """(state machine ARN, routing) of a routing configuration: 1 or 2 distinct versions of one
    state machine, integer weights of 0 to 100 summing to 100."""
    if not isinstance(routing, list) or not 1 <= len(routing) <= 2:
        raise ApiError(
            "ValidationException",
            "1 validation error detected: Value at 'routingConfiguration' failed to satisfy "
            "constraint: Member must have length between 1 and 2",
        )
    machines = set()
    versions = set()
    total = 0
    out = []
    for item in routing:
        if not isinstance(item, dict):
            raise ApiError("ValidationException", "Invalid routingConfiguration item")
        arn = item.get("stateMachineVersionArn")
        weight = item.get("weight")
        sm_arn, _ = parse_version_arn(arn)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
            raise ApiError(
                "ValidationException",
                "1 validation error detected: Value at 'routingConfiguration.member.weight' "
                "failed to satisfy constraint: Member must have value between 0 and 100",
            )
        machines.add(sm_arn)
        versions.add(arn)
        total += weight
        out.append({"stateMachineVersionArn": arn, "weight": weight})
    if len(machines) > 1:
        raise ApiError(
            "ValidationException",
            "Routing configuration must contain versions of the same state machine",
        )
    if len(versions) < len(out):
        raise ApiError(
            "ValidationException", "Routing configuration must contain distinct versions"
        )
    if total != 100:
        raise ApiError(
            "ValidationException", "Sum of routing configuration weights must be equal to 100"
        )
    return machines.pop(), out


def pick_version(routing: list[dict[str, Any]], rng: random.Random | None = None) -> str:
    """The version an execution started on the alias runs, chosen by weight."""
    chooser = rng or random
    point = chooser.uniform(0, 100)
    for item in routing:
        if point < item["weight"]:
            return str(item["stateMachineVersionArn"])
        point -= item["weight"]
    # uniform() may return 100.0 itself: the last version with any weight takes it.
    return str(next(i for i in reversed(routing) if i["weight"] > 0)["stateMachineVersionArn"])
