"""ARNs and names of state machines and executions."""

from __future__ import annotations

import re

from .errors import ApiError

_NAME_BAD = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def check_name(name: object, what: str = "name") -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 80 or _NAME_BAD.search(name):
        raise ApiError("InvalidName", f"Invalid Name: '{name}'")
    return name


def state_machine_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:stateMachine:{name}"


def execution_arn(region: str, account: str, sm_name: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:execution:{sm_name}:{name}"


def parse_state_machine_arn(arn: object) -> str:
    """The state machine's name; raises InvalidArn."""
    if isinstance(arn, str):
        parts = arn.split(":")
        if len(parts) == 7 and parts[:3] == ["arn", "aws", "states"] and parts[5] == "stateMachine":
            return parts[6]
    raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


def split_test_case(arn: object) -> tuple[object, str | None]:
    """(state machine ARN, test case) of `...:stateMachine:Name#TestCase` (Step Functions Local's
    way of picking a mocked test case); the test case is None without a suffix."""
    if isinstance(arn, str) and "#" in arn:
        plain, _, case = arn.partition("#")
        if case:
            return plain, case
        raise ApiError("InvalidArn", f"Invalid Arn: 'Empty test case name after # in: {arn}'")
    return arn, None


def parse_execution_arn(arn: object) -> tuple[str, str]:
    """(state machine name, execution name); raises InvalidArn."""
    if isinstance(arn, str):
        parts = arn.split(":")
        if len(parts) == 8 and parts[:3] == ["arn", "aws", "states"] and parts[5] == "execution":
            return parts[6], parts[7]
    raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


def check_role_arn(arn: object) -> str:
    if not isinstance(arn, str) or not re.match(r"^arn:[^:]+:iam::\d*:role/.+", arn):
        raise ApiError("InvalidArn", f"Invalid Arn: 'Invalid role ARN: {arn}'")
    return arn


def split_qualifier(arn: object) -> tuple[str, str | None]:
    """(state machine ARN, qualifier) of `...:stateMachine:Name[:Qualifier]`: a version number
    or an alias name; the qualifier is None for an unqualified ARN. Raises InvalidArn."""
    if isinstance(arn, str):
        parts = arn.split(":")
        if len(parts) == 8 and parts[:3] == ["arn", "aws", "states"] and parts[5] == "stateMachine":
            if parts[7]:
                return ":".join(parts[:7]), parts[7]
        elif len(parts) == 7:
            parse_state_machine_arn(arn)
            return arn, None
    raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")


def activity_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:states:{region}:{account}:activity:{name}"


def is_activity_arn(arn: object) -> bool:
    """`arn:aws:states:REGION:ACCOUNT:activity:NAME`, the Task resource of an activity too."""
    if not isinstance(arn, str):
        return False
    parts = arn.split(":")
    return len(parts) == 7 and parts[:3] == ["arn", "aws", "states"] and parts[5] == "activity"


def parse_activity_arn(arn: object) -> str:
    """The activity's name; raises InvalidArn."""
    if is_activity_arn(arn) and str(arn).rsplit(":", 1)[-1]:
        return str(arn).rsplit(":", 1)[-1]
    raise ApiError("InvalidArn", f"Invalid Arn: 'Resource type not valid in this context: {arn}'")
