import json
from pathlib import Path

import pytest

from local.runtime.config import load_env_vars, parse_parameter_overrides
from local.runtime.template import TemplateError, load_application

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "template.yaml"


def test_reads_functions_routes_topics_and_state_machine_from_template() -> None:
    app = load_application(TEMPLATE)

    assert app.functions["SignupFunction"].handler == "optin.handlers.signup.handler"
    assert app.functions["SignupFunction"].code_uri == REPO / "functions"
    assert [(r.method, r.path) for r in app.routes] == [
        ("GET", "/disclosure"),
        ("POST", "/signups"),
        ("GET", "/contacts/{phoneNumber}"),
    ]
    assert app.subscribers("InboundSmsTopic") == [app.functions["InboundSmsFunction"]]
    definition = json.loads(app.state_machines["RegistrationStateMachine"].definition)
    task = definition["States"]["SendConfirmation"]
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["Parameters"]["FunctionName"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:SendConfirmationFunction"
    )


def test_globals_merge_with_function_environment_and_refs_resolve() -> None:
    env = load_application(TEMPLATE).functions["SignupFunction"].environment

    assert env["PROGRAM_NAME"] == "Acme Alerts"  # from Globals, via !Ref ProgramName
    assert env["ALLOWED_COUNTRIES"] == "US,CA"  # !Join over a CommaDelimitedList
    assert env["STATE_MACHINE_ARN"].endswith(":stateMachine:RegistrationStateMachine")


def test_parameter_overrides_reach_definition_and_environment() -> None:
    app = load_application(TEMPLATE, {"ConfirmationWindowSeconds": "5", "ProgramName": "Beta Club"})

    definition = app.state_machines["RegistrationStateMachine"].definition
    assert "States.StringToJson('5')" in definition
    assert app.functions["OptInFunction"].environment["PROGRAM_NAME"] == "Beta Club"


def test_unknown_parameter_override_is_an_error() -> None:
    with pytest.raises(TemplateError, match="NoSuchParameter"):
        load_application(TEMPLATE, {"NoSuchParameter": "1"})


def test_env_vars_file_overrides_only_declared_variables_like_sam(tmp_path: Path) -> None:
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {"CONTACT_STORE": "sqlite", "SQLITE_PATH": "c.db", "NOPE": "x"},
                "SignupFunction": {"PROGRAM_NAME": "Signup Only"},
            }
        )
    )
    app = load_application(TEMPLATE, None, load_env_vars(env_file, tmp_path))

    signup = app.functions["SignupFunction"].environment
    assert signup["CONTACT_STORE"] == "sqlite"
    assert signup["SQLITE_PATH"] == str(tmp_path / "c.db")  # relative *_PATH → data dir
    assert signup["PROGRAM_NAME"] == "Signup Only"
    assert "NOPE" not in signup
    assert app.functions["OptInFunction"].environment["PROGRAM_NAME"] == "Acme Alerts"


def test_route_matching_extracts_path_parameters() -> None:
    app = load_application(TEMPLATE)

    found = app.route_for("GET", "/contacts/%2B12065550100")
    assert found is not None
    assert found[0].function_id == "ContactStatusFunction"
    assert found[1] == {"phoneNumber": "%2B12065550100"}
    assert app.route_for("DELETE", "/signups") is None
    assert app.route_for("GET", "/contacts/a/b") is None


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        (["A=1", "B=x=y"], {"A": "1", "B": "x=y"}),
        (["ParameterKey=A,ParameterValue=2"], {"A": "2"}),
    ],
)
def test_parameter_overrides_accept_both_sam_spellings(
    tokens: list[str], expected: dict[str, str]
) -> None:
    assert parse_parameter_overrides(tokens) == expected
