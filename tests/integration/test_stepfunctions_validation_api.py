"""Definitions checked through boto3 against the standalone server: ValidateStateMachineDefinition
as botocore's model has it, and InvalidDefinition from Create/UpdateStateMachine."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ParamValidationError

from local.stepfunctions.server import Server
from tests.support.stepfunctions import engine_client
from tests.support.stepfunctions import error_code as code

ROLE = "arn:aws:iam::123456789012:role/test"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
# two findings AWS reports for this definition, in this order (localstack issue 11978)
DANGLING = {
    "StartAt": "pass1",
    "States": {
        "pass1": {"Type": "Pass", "Next": "pass3"},
        "pass2": {"Type": "Pass", "End": True},
    },
}
AWS_MESSAGE = (
    "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: pass3 "
    'at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not reachable. at '
    "/States/pass2'"
)
CALLBACK = {
    "StartAt": "T",
    "States": {
        "T": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "f", "Payload": "$.looks.like.a.path"},
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    db = pathlib.Path(tmp_path_factory.mktemp("sfn")) / "sfn.db"
    srv = Server(db, port=0).start()
    # parameter_validation off: the server's own checks are what is under test
    yield engine_client(srv.url, parameter_validation=False)
    srv.stop()


def test_a_valid_definition_is_ok(sfn: Any) -> None:
    out = sfn.validate_state_machine_definition(definition=json.dumps(PASS))
    assert (out["result"], out["diagnostics"], out["truncated"]) == ("OK", [], False)


def test_an_invalid_definition_fails_with_aws_diagnostics(sfn: Any) -> None:
    out = sfn.validate_state_machine_definition(definition=json.dumps(DANGLING), type="STANDARD")
    assert out["result"] == "FAIL" and out["truncated"] is False
    assert out["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "MISSING_TRANSITION_TARGET",
            "message": "Missing 'Next' target: pass3",
            "location": "/States/pass1/Next",
        },
        {
            "severity": "ERROR",
            "code": "MISSING_TRANSITION_TARGET",
            "message": 'State "pass2" is not reachable.',
            "location": "/States/pass2",
        },
    ]


def test_not_json_and_no_location(sfn: Any) -> None:
    out = sfn.validate_state_machine_definition(definition="not a definition")
    assert out["result"] == "FAIL"
    assert out["diagnostics"][0]["code"] == "INVALID_JSON_DESCRIPTION"
    out = sfn.validate_state_machine_definition(definition=" ")
    assert out["diagnostics"] == [
        {
            "severity": "ERROR",
            "code": "SCHEMA_VALIDATION_FAILED",
            "message": "Definition must be a valid JSON object",
        }
    ]


def test_type_severity_and_max_results(sfn: Any) -> None:
    text = json.dumps(CALLBACK)
    # the default severity is ERROR: the NO_DOLLAR warning is not shown, the result is OK
    assert sfn.validate_state_machine_definition(definition=text)["diagnostics"] == []
    warned = sfn.validate_state_machine_definition(definition=text, severity="WARNING")
    assert warned["result"] == "OK"
    assert [d["code"] for d in warned["diagnostics"]] == ["NO_DOLLAR"]
    express = sfn.validate_state_machine_definition(
        definition=text, type="EXPRESS", severity="WARNING"
    )
    assert express["result"] == "FAIL"
    # errors come before warnings, so a truncated answer still says why it fails
    assert [d["severity"] for d in express["diagnostics"]] == ["ERROR", "WARNING"]
    one = sfn.validate_state_machine_definition(
        definition=text, type="EXPRESS", severity="WARNING", maxResults=1
    )
    assert one["truncated"] is True and len(one["diagnostics"]) == 1
    assert one["diagnostics"][0]["location"] == "/States/T/Resource"
    # maxResults 0 means the default, 100
    zero = sfn.validate_state_machine_definition(
        definition=text, type="EXPRESS", severity="WARNING", maxResults=0
    )
    assert len(zero["diagnostics"]) == 2 and zero["truncated"] is False


@pytest.mark.parametrize(
    ("params", "member"),
    [
        ({"type": "LONG"}, "type"),
        ({"severity": "INFO"}, "severity"),
        ({"maxResults": 101}, "maxResults"),
        ({"maxResults": -1}, "maxResults"),
        ({"definition": ""}, "definition"),
    ],
)
def test_parameters_outside_the_model_are_refused(
    sfn: Any, params: dict[str, Any], member: str
) -> None:
    with pytest.raises(ClientError) as e:
        sfn.validate_state_machine_definition(**{"definition": json.dumps(PASS), **params})
    assert code(e) == "ValidationException"
    assert f"at '{member}' failed to satisfy constraint" in str(e.value)


def test_botocore_requires_a_definition() -> None:
    client = boto3.client(
        "stepfunctions",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    with pytest.raises(ParamValidationError):
        client.validate_state_machine_definition()


def test_create_and_update_refuse_with_aws_message(sfn: Any) -> None:
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="dangling", definition=json.dumps(DANGLING), roleArn=ROLE)
    assert code(e) == "InvalidDefinition"
    assert e.value.response["Error"]["Message"] == AWS_MESSAGE
    arn = sfn.create_state_machine(name="ok", definition=json.dumps(PASS), roleArn=ROLE)[
        "stateMachineArn"
    ]
    with pytest.raises(ClientError) as e:
        sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(DANGLING))
    assert code(e) == "InvalidDefinition"
    assert e.value.response["Error"]["Message"] == AWS_MESSAGE
    # the refused update changed nothing
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == PASS


def test_express_create_refuses_what_standard_accepts(sfn: Any) -> None:
    text = json.dumps(CALLBACK)
    sfn.create_state_machine(name="cb-standard", definition=text, roleArn=ROLE)
    with pytest.raises(ClientError) as e:
        sfn.create_state_machine(name="cb-express", definition=text, roleArn=ROLE, type="EXPRESS")
    assert code(e) == "InvalidDefinition"
    assert "'.waitForTaskToken' service integration  at /States/T/Resource" in str(e.value)
