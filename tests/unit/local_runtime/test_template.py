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
    public = [
        (r.method, r.path, r.authorizer) for r in app.routes if r.function_id == "SignupFunction"
    ]
    assert public == [
        ("GET", "/signups/challenge", None),
        ("GET", "/disclosure", None),
        ("POST", "/signups", None),
        ("GET", "/signups/{registrationId}", None),
    ]
    assert "ContactStatusFunction" in app.functions  # deployed, but on no public route
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

    found = app.route_for("GET", "/signups/reg-123")
    assert found is not None
    assert found[0].function_id == "SignupFunction"
    assert found[1] == {"registrationId": "reg-123"}
    assert app.route_for("DELETE", "/signups") is None
    assert app.route_for("GET", "/signups/a/b") is None
    assert app.route_for("GET", "/contacts/%2B12065550100") is None


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


# --- End User Messaging resources, conditions and the local data that stands in for them ---


def test_stack_created_number_is_the_origination_identity_by_default() -> None:
    env = load_application(TEMPLATE).functions["SendConfirmationFunction"].environment

    assert env["ORIGINATION_IDENTITY"] == (
        "arn:aws:sms-voice:us-east-1:123456789012:phone-number/OriginationNumber"
    )
    assert env["OPT_OUT_LIST_NAME"] == "sms-optin-local-opt-outs"
    assert env["CONFIGURATION_SET_NAME"] == "sms-optin-local-texts"
    assert env["CARRIER_LOOKUP"] == "false"


def test_existing_origination_identity_replaces_the_created_number() -> None:
    pool = "arn:aws:sms-voice:us-east-1:123456789012:pool/pool-0123456789abcdef"
    app = load_application(TEMPLATE, {"ExistingOriginationIdentity": pool, "CarrierLookup": "true"})

    env = app.functions["InboundSmsFunction"].environment
    assert env["ORIGINATION_IDENTITY"] == pool
    assert env["CARRIER_LOOKUP"] == "true"


def test_local_env_file_gives_the_sandbox_number() -> None:
    app = load_application(TEMPLATE, None, load_env_vars(REPO / "local" / "env.json", REPO))

    for function in app.functions.values():
        assert function.environment["ORIGINATION_IDENTITY"] == "+12065550142"


def test_replies_go_to_the_topic_the_number_names_even_if_declared_later(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Resources:
  AlarmTopic:
    Type: AWS::SNS::Topic
  Replies:
    Type: AWS::SNS::Topic
  Number:
    Type: AWS::SMSVOICE::PhoneNumber
    Properties:
      TwoWay: {Enabled: true, ChannelArn: !Ref Replies}
"""
    )

    assert next(iter(load_application(template).topics)) == "Replies"
    assert next(iter(load_application(TEMPLATE).topics)) == "InboundSmsTopic"


CONDITIONS_TEMPLATE = """
Parameters:
  Mode: {Type: String, Default: a}
  Extra: {Type: String, Default: ""}
Conditions:
  IsA: !Equals [!Ref Mode, a]
  HasExtra: !Not [!Equals [!Ref Extra, ""]]
  Both: !And [!Condition IsA, !Condition HasExtra]
  Either: !Or [!Condition IsA, !Condition HasExtra]
Resources:
  Only:
    Type: AWS::SNS::Topic
    Condition: HasExtra
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h.handler
      CodeUri: .
      Environment:
        Variables:
          PICK: !If [IsA, from-a, from-b]
          BOTH: !If [Both, "yes", "no"]
          EITHER: !If [Either, "yes", "no"]
          GONE: !If [HasExtra, !Ref Extra, !Ref AWS::NoValue]
          LIST: !Join [",", [x, !If [HasExtra, !Ref Extra, !Ref AWS::NoValue], z]]
          TOPIC: !If [HasExtra, !Ref Only, none]
"""


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, {"PICK": "from-a", "BOTH": "no", "EITHER": "yes", "LIST": "x,z", "TOPIC": "none"}),
        (
            {"Mode": "b"},
            {"PICK": "from-b", "BOTH": "no", "EITHER": "no", "LIST": "x,z", "TOPIC": "none"},
        ),
        (
            {"Extra": "e"},
            {
                "PICK": "from-a",
                "BOTH": "yes",
                "EITHER": "yes",
                "GONE": "e",
                "LIST": "x,e,z",
                "TOPIC": "arn:aws:sns:us-east-1:123456789012:Only",
            },
        ),
    ],
)
def test_conditions_if_and_no_value_evaluate_like_cloudformation(
    tmp_path: Path, overrides: dict[str, str], expected: dict[str, str]
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(CONDITIONS_TEMPLATE)

    app = load_application(template, overrides)

    assert app.functions["Fn"].environment == expected
    assert ("Only" in app.topics) == ("Extra" in overrides)  # Condition on a resource


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ("Conditions:\n  C: !Equals [a]\n", "Fn::Equals takes two values"),
        ("Conditions:\n  C: !Not [!Condition C]\n", "refers to itself"),
        ("Conditions:\n  C: !Not [!Condition Nope]\n", "Nope is not declared"),
        ("Conditions:\n  C: !Equals [a, a]\n  D: !Or [!Condition C]\n", "2 to 10"),
        ("Conditions:\n  C: yes\n", "not a condition"),
    ],
)
def test_broken_conditions_fail_with_a_clear_error(
    tmp_path: Path, fragment: str, message: str
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(fragment + "Resources:\n  T:\n    Type: AWS::SNS::Topic\n")

    with pytest.raises(TemplateError, match=message):
        load_application(template)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!Ref Gone", "Gone is not created"),
        ("!GetAtt Gone.Arn", "Gone is not created"),
        ("!If [Nope, a, b]", "Nope is not declared"),
        ("!If [Disabled, a]", "Fn::If takes"),
        ("!GetAtt Number.PhoneNumber", "no local value; set what uses it in --env-vars"),
        ("!FindInMap [M, k, v]", "Fn::FindInMap is not supported"),
        ("!Ref Missing", "no such parameter or resource"),
    ],
)
def test_unsupported_or_impossible_values_fail_with_a_clear_error(
    tmp_path: Path, value: str, message: str
) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        f"""
Conditions:
  Disabled: !Equals [a, b]
Resources:
  Gone:
    Type: AWS::SNS::Topic
    Condition: Disabled
  Number:
    Type: AWS::SMSVOICE::PhoneNumber
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h.handler
      CodeUri: .
      Environment:
        Variables:
          V: {value}
"""
    )

    with pytest.raises(TemplateError, match=message):
        load_application(template)


def test_new_resource_types_resolve_to_aws_shaped_names(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Resources:
  List:
    Type: AWS::SMSVOICE::OptOutList
    Properties: {OptOutListName: !Sub "${AWS::StackName}-list"}
  Queue:
    Type: AWS::SQS::Queue
  Key:
    Type: AWS::KMS::Key
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: h.handler
      CodeUri: .
      Environment:
        Variables:
          LIST: !Ref List
          LIST_ARN: !GetAtt List.Arn
          QUEUE_URL: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          QUEUE_NAME: !GetAtt Queue.QueueName
          KEY_ARN: !GetAtt Key.Arn
"""
    )

    assert load_application(template).functions["Fn"].environment == {
        "LIST": "sms-optin-local-list",
        "LIST_ARN": "arn:aws:sms-voice:us-east-1:123456789012:opt-out-list/sms-optin-local-list",
        "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/Queue",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:Queue",
        "QUEUE_NAME": "Queue",
        "KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/Key",
    }


def test_reads_the_console_authorizer_and_which_routes_it_guards() -> None:
    app = load_application(TEMPLATE)
    authorizer = app.authorizers["ConsoleAuthorizer"]
    assert authorizer.function_id == "ConsoleAuthorizerFunction"
    assert authorizer.identity_headers == ("Cookie",)
    session = {(r.method, r.authorizer) for r in app.routes if r.path == "/console/api/session"}
    assert session == {("GET", "ConsoleAuthorizer"), ("POST", None), ("DELETE", None)}
    # Closed by default: every route but the public form's and the sign-in names it, or
    # requires an API key (the partner API).
    open_routes = {
        (r.method, r.path) for r in app.routes if r.authorizer is None and not r.api_key_required
    }
    keyed = {(r.method, r.path) for r in app.routes if r.api_key_required}
    assert keyed == {
        ("POST", "/v1/signups"),
        ("GET", "/v1/signups"),
        ("GET", "/v1/signups/{registrationId}"),
        ("DELETE", "/v1/signups/{registrationId}"),
        ("PUT", "/v1/webhook"),
        ("GET", "/v1/webhook"),
        ("DELETE", "/v1/webhook"),
        ("POST", "/v1/webhook/test"),
        ("GET", "/v1/webhook/deliveries"),
        ("GET", "/v1/webhook/deliveries/{deliveryId}"),
        ("POST", "/v1/webhook/deliveries/{deliveryId}/replay"),
        ("GET", "/v1/openapi.json"),
    }
    assert open_routes == {
        ("GET", "/signups/challenge"),
        ("GET", "/disclosure"),
        ("POST", "/signups"),
        ("GET", "/signups/{registrationId}"),
        ("POST", "/console/api/session"),
        ("DELETE", "/console/api/session"),
    }


def test_reads_the_user_pool_its_client_and_groups() -> None:
    app = load_application(TEMPLATE)
    (pool,) = app.user_pools.values()
    assert pool.pool_id == "us-east-1_ConsoleUserPool"
    assert pool.password_policy.minimum_length == 14 and pool.password_policy.require_symbols
    assert pool.groups == {"agent": 1, "viewer": 2}
    assert pool.case_sensitive is False
    client = pool.clients["ConsoleUserPoolClient"]
    assert client.access_token_seconds == 3600
    assert "ALLOW_USER_PASSWORD_AUTH" in client.explicit_auth_flows
    env = app.functions["ConsoleSessionFunction"].environment
    assert (env["USER_POOL_ID"], env["USER_POOL_CLIENT_ID"]) == (
        pool.pool_id,
        "ConsoleUserPoolClient",
    )


def test_an_unknown_authorizer_is_a_template_error(tmp_path: Path) -> None:
    text = TEMPLATE.read_text().replace(
        "DefaultAuthorizer: ConsoleAuthorizer", "DefaultAuthorizer: Nope"
    )
    broken = tmp_path / "template.yaml"
    broken.write_text(text)
    (tmp_path / "statemachine").symlink_to(REPO / "statemachine")
    (tmp_path / "functions").symlink_to(REPO / "functions")
    with pytest.raises(TemplateError, match="DefaultAuthorizer Nope"):
        load_application(broken)
