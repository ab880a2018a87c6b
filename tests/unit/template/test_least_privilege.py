"""Least privilege: each role grants exactly what its function's code can call (iam_check
explains how that is derived from the code), and the consent ledger cannot be overwritten,
updated or deleted by a lone call from any role.

Every check here is also run against a template or a code base broken on purpose, so each
one is seen failing."""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.template import iam_check
from tests.unit.template.iam_check import Package, Stack

ASL = iam_check.ROOT / "statemachine" / "registration.asl.json"

# The two shapes of the stack: defaults (the stack creates its number, no carrier lookup),
# and an existing pool with carrier lookup on.
PARAMETER_SETS = {
    "defaults": {},
    "existing-pool-lookup-on": {
        "ExistingOriginationIdentity": "arn:aws:sms-voice:us-east-1:123456789012:pool/pool-1",
        "CarrierLookup": "true",
    },
}

# Keys of each item kind (ports/contact_store.py); a lone write must reach only the last two.
CONTACT_KEY = "CONTACT#+12065550100"
REGISTRATION_KEY = "REGISTRATION#3f0e"
SEND_KEY = "SEND#confirm:3f0e:1"
INBOUND_KEY = "INBOUND#msg-1"


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return iam_check.transform(iam_check.load_sam())


@pytest.fixture(scope="module")
def package() -> Package:
    return Package()


def _stack(transformed: dict[str, Any], parameters: dict[str, str]) -> Stack:
    return Stack(copy.deepcopy(transformed), parameters)


@pytest.mark.parametrize("shape", sorted(PARAMETER_SETS))
def test_every_function_role_grants_exactly_what_its_code_calls(
    transformed: dict[str, Any], package: Package, shape: str
) -> None:
    problems, _ = iam_check.check_stack(_stack(transformed, PARAMETER_SETS[shape]), package)
    assert problems == []


def test_the_state_machine_invokes_only_its_six_functions(transformed: dict[str, Any]) -> None:
    stack = _stack(transformed, {})
    assert iam_check.state_machine_problems(stack, ASL, "RegistrationStateMachine") == []
    granted = stack.grants(stack.role_of("RegistrationStateMachine"))
    assert {resource for _, resource in granted} == {
        "${ValidateNumberFunction.Arn}",
        "${CreateContactFunction.Arn}",
        "${SendConfirmationFunction.Arn}",
        "${OptInFunction.Arn}",
        "${ExpireFunction.Arn}",
        "${CleanUpFunction.Arn}",
    }


def test_the_code_analysis_finds_each_kind_of_call(package: Package) -> None:
    # Pins what the analysis sees today, so a blind spot shows as a failure here.
    needs, _, problems = iam_check.function_needs(package, "optin.handlers.inbound_sms")
    assert problems == []
    actions = {need.action for need in needs}
    assert {
        "dynamodb:GetItem",
        "dynamodb:PutItem",  # from TransactWriteItems' Put items and lone claims
        "dynamodb:UpdateItem",
        "states:SendTaskSuccess",  # getattr dispatch on a snake_case constant
        "states:SendTaskFailure",
        "sms-voice:SendTextMessage",  # dispatch on a CamelCase constant
    } <= actions
    signup, _, _ = iam_check.function_needs(package, "optin.handlers.signup")
    assert iam_check.Need("states:StartExecution", "state_machine", "SfnWorkflow.start") in signup
    # Through a use-case helper module function (usecases/ended.py) to the port.
    assert iam_check.Need("states:DescribeExecution", "execution", "SfnWorkflow.status") in signup
    assert "states:DescribeExecution" in actions
    status, _, _ = iam_check.function_needs(package, "optin.handlers.contact_status")
    assert {need.action for need in status} == {"dynamodb:GetItem", "dynamodb:Query"}
    console, _, problems = iam_check.function_needs(package, "optin.handlers.console")
    assert problems == []
    assert {(need.action, need.resource_key) for need in console} == {
        ("dynamodb:GetItem", "table"),
        ("dynamodb:Query", "table"),  # a number's ledger
        ("dynamodb:Query", "index:ByStatus"),  # the sign-ups list
        ("dynamodb:Query", "index:PendingByExpiry"),  # the pending, soonest to expire
        ("states:DescribeExecution", "execution"),
        ("states:GetExecutionHistory", "execution"),
        ("states:DescribeStateMachine", "state_machine"),
    }


# -- no lone call can touch the contact or its ledger --------------------------------------


def _statements(stack: Stack) -> Iterator[tuple[str, dict[str, Any]]]:
    for resource in stack.resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            role = next(name for name, value in stack.resources.items() if value is resource)
            for statement in stack.statements(role):
                yield role, statement


def _actions(statement: dict[str, Any]) -> list[str]:
    return [action.lower() for action in iam_check._as_list(statement.get("Action"))]


def _allows(statement: dict[str, Any], action: str, key: str, *, transaction: bool) -> bool:
    """Whether one Allow statement lets `action` write an item whose partition key is
    `key` (IAM's semantics for the condition operators these policies use)."""
    if not any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in _actions(statement)):
        return False
    # The keys are the contacts table's items: a statement on another table (the partner
    # API's IdempotencyTable) cannot reach them.
    resources = iam_check._as_list(statement.get("Resource"))
    if not any(r == "*" or "ContactsTable" in json.dumps(r) for r in resources):
        return False
    for operator, keys in statement.get("Condition", {}).items():
        for name, values in keys.items():
            values = iam_check._as_list(values)
            if name == "dynamodb:LeadingKeys" and operator == "ForAllValues:StringLike":
                if not any(fnmatch.fnmatchcase(key, value) for value in values):
                    return False
            elif name == "dynamodb:EnclosingOperation" and operator == ("ForAnyValue:StringEquals"):
                if not transaction or "TransactWriteItems" not in values:
                    return False
            else:
                raise AssertionError(f"condition {operator} {name} is not modelled here")
    return True


def ledger_problems(stack: Stack) -> list[str]:
    problems = []
    for role, statement in _statements(stack):
        for action in ("dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            for key in (CONTACT_KEY, SEND_KEY):
                if _allows(statement, action, key, transaction=True):
                    problems.append(f"{role} may {action} {key}")
        for key in (CONTACT_KEY, REGISTRATION_KEY):
            for action in ("dynamodb:PutItem", "dynamodb:UpdateItem"):
                if _allows(statement, action, key, transaction=False):
                    problems.append(f"{role} may {action} {key} outside a transaction")
            if _allows(statement, "dynamodb:UpdateItem", key, transaction=True):
                problems.append(f"{role} may UpdateItem {key} in a transaction")
    return problems


def test_no_role_can_update_or_overwrite_a_contact_or_ledger_item_by_itself(
    transformed: dict[str, Any],
) -> None:
    stack = _stack(transformed, {})
    assert ledger_problems(stack) == []
    # …while the writes the code makes stay allowed.
    role = stack.role_of("InboundSmsFunction")
    statements = stack.statements(role)
    assert any(_allows(s, "dynamodb:PutItem", CONTACT_KEY, transaction=True) for s in statements)
    assert any(_allows(s, "dynamodb:UpdateItem", SEND_KEY, transaction=False) for s in statements)
    assert any(_allows(s, "dynamodb:PutItem", INBOUND_KEY, transaction=False) for s in statements)


def test_every_role_that_saves_a_contact_may_count_it_in_the_same_transaction(
    transformed: dict[str, Any],
) -> None:
    """A contact's save carries the funnel's counter Update (STATS#DAILY) in its transaction,
    so a role that may write a contact there without that grant fails every save on AWS."""
    stack = _stack(transformed, {})
    saving = {
        role
        for role, statement in _statements(stack)
        if _allows(statement, "dynamodb:PutItem", CONTACT_KEY, transaction=True)
    }
    assert "ConsoleActionsFunctionRole" in saving
    counting = {
        role
        for role, statement in _statements(stack)
        if _allows(statement, "dynamodb:UpdateItem", "STATS#DAILY", transaction=True)
    }
    assert saving - counting == set()
    # …and the counter grant is only for transactions.
    assert not any(
        _allows(statement, "dynamodb:UpdateItem", "STATS#DAILY", transaction=False)
        for _, statement in _statements(stack)
    )


def test_line_lookups_are_cached_only_when_carrier_lookup_is_on(
    transformed: dict[str, Any],
) -> None:
    """The lookup cache is a plain PutItem under LOOKUP#<number>: allowed for ValidateNumber
    with CarrierLookup on, and for nothing else or when it is off."""
    lookup_key = "LOOKUP#+12065550100"
    for parameters, expected in (({"CarrierLookup": "true"}, True), ({}, False)):
        stack = _stack(transformed, parameters)
        statements = stack.statements(stack.role_of("ValidateNumberFunction"))
        allowed = any(
            _allows(s, "dynamodb:PutItem", lookup_key, transaction=False) for s in statements
        )
        assert allowed is expected, parameters
        # The cache grant does not reach contact or ledger items.
        assert not any(
            _allows(s, "dynamodb:PutItem", CONTACT_KEY, transaction=False) for s in statements
        )


# -- tests of the tests ------------------------------------------------------------------


def _policies(transformed: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return transformed["Resources"][role]["Properties"]["Policies"]


def _problems(transformed: dict[str, Any], package: Package) -> list[str]:
    return iam_check.check_stack(Stack(transformed), package)[0]


def test_a_removed_statement_is_missing(transformed: dict[str, Any], package: Package) -> None:
    broken = copy.deepcopy(transformed)
    for policy in _policies(broken, "SignupFunctionRole"):
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [
            s for s in statements if s.get("Sid") != "StartRegistrations"
        ]
    assert _problems(broken, package) == [
        "SignupFunction: missing states:StartExecution on ${RegistrationStateMachine}"
    ]


def test_an_added_action_is_surplus_and_forbidden(
    transformed: dict[str, Any], package: Package
) -> None:
    broken = copy.deepcopy(transformed)
    _policies(broken, "ExpireFunctionRole")[0]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": "dynamodb:DeleteItem",
            "Resource": {"Fn::GetAtt": ["ContactsTable", "Arn"]},
        }
    )
    assert _problems(broken, package) == [
        "ExpireFunction: surplus dynamodb:DeleteItem on ${ContactsTable.Arn}",
        "ExpireFunction: forbidden dynamodb:DeleteItem",
    ]


def test_a_wildcard_is_refused_unless_the_reference_requires_it(
    transformed: dict[str, Any], package: Package
) -> None:
    broken = copy.deepcopy(transformed)
    _policies(broken, "OptInFunctionRole")[0]["PolicyDocument"]["Statement"].append(
        {
            "Effect": "Allow",
            "Action": ["dynamodb:Get*", "sms-voice:SendTextMessage"],
            "Resource": "*",
        }
    )
    problems = _problems(broken, package)
    assert "OptInFunction: wildcard action dynamodb:Get*" in problems
    assert "OptInFunction: wildcard resource * for sms-voice:SendTextMessage" in problems
    assert "OptInFunction: surplus sms-voice:SendTextMessage on *" in problems


def test_executions_may_be_named_only_as_one_state_machine_s(
    transformed: dict[str, Any], package: Package
) -> None:
    broken = copy.deepcopy(transformed)
    for policy in _policies(broken, "ConsoleFunctionRole"):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "ReadRegistrationExecutions":
                statement["Resource"] = {
                    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
                    ":execution:*"
                }
    problems = _problems(broken, package)
    assert any(
        p.startswith("ConsoleFunction: wildcard resource") and p.endswith("execution:*")
        for p in [q.rsplit(" for ", 1)[0] for q in problems]
    ), problems
    assert any(p.startswith("ConsoleFunction: missing states:DescribeExecution") for p in problems)


def test_a_deny_or_not_action_is_refused(transformed: dict[str, Any], package: Package) -> None:
    broken = copy.deepcopy(transformed)
    _policies(broken, "ExpireFunctionRole")[0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    )
    assert "ExpireFunction: NotAction is not allowed here" in _problems(broken, package)


def test_a_ledger_overwrite_grant_is_caught(transformed: dict[str, Any]) -> None:
    broken = copy.deepcopy(transformed)
    for policy in _policies(broken, "OptInFunctionRole"):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "ClaimSends":
                statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] = [
                    "SEND#*",
                    "CONTACT#*",
                ]
    assert ledger_problems(Stack(broken)) == [
        "OptInFunctionRole may dynamodb:PutItem CONTACT#+12065550100 outside a transaction",
        "OptInFunctionRole may dynamodb:UpdateItem CONTACT#+12065550100 outside a transaction",
        "OptInFunctionRole may UpdateItem CONTACT#+12065550100 in a transaction",
    ]


def test_the_state_machine_check_catches_an_extra_function(transformed: dict[str, Any]) -> None:
    broken = copy.deepcopy(transformed)
    statement = _policies(broken, "RegistrationStateMachineRole")[0]["PolicyDocument"]["Statement"][
        0
    ]
    statement["Resource"].append({"Fn::GetAtt": ["SignupFunction", "Arn"]})
    assert iam_check.state_machine_problems(Stack(broken), ASL, "RegistrationStateMachine") == [
        "RegistrationStateMachine: surplus lambda:InvokeFunction on ${SignupFunction.Arn}"
    ]


# A small code base in the shapes the real one uses: a handler, a use case, two ports and
# their boto3 adapters.
FAKE_SOURCES = {
    "optin.ports.things": """
from typing import Protocol
class Things(Protocol):
    def get(self, key: str) -> str: ...
    def put(self, key: str) -> None: ...
class Texts(Protocol):
    def send(self, to: str) -> str: ...
""",
    "optin.adapters.dynamo_things": """
from optin.adapters.lazy import session_client
factory = session_client("dynamodb")
INDEX = "ByStatus"
class DynamoThings:
    def get(self, key):
        return self._client().query(TableName="t", IndexName=INDEX)
    def put(self, key):
        self._write([{"Put": {"TableName": "t", "Item": {}}}])
    def _write(self, items):
        self._client().transact_write_items(TransactItems=items)
""",
    "optin.adapters.texts": """
import boto3
class EumTexts:
    def send(self, to):
        return self._call("SendTextMessage", {"ConfigurationSetName": "c"})
    def _call(self, operation, request):
        return boto3.client("pinpoint-sms-voice-v2")
""",
    "optin.usecases.stuff": """
from dataclasses import dataclass
from optin.ports.things import Things, Texts
@dataclass
class Base:
    things: Things
    texts: Texts
class Stuff(Base):
    def look(self, key):
        return self._helper(key)
    def _helper(self, key):
        return self.things.get(key)
    def change(self, key):
        self.things.put(key)
        notify(self.texts, key)
def notify(texts: Texts, key: str) -> None:
    texts.send(key)
""",
    "optin.wiring": """
from dataclasses import dataclass
from optin.usecases.stuff import Stuff
@dataclass
class Dependencies:
    @property
    def stuff(self) -> Stuff:
        return Stuff()
def dependencies() -> Dependencies:
    return Dependencies()
""",
    "optin.handlers.reader": """
from optin import wiring
def handler(event, context):
    return wiring.dependencies().stuff.look(event["key"])
""",
    "optin.handlers.writer": """
from optin import wiring
def handler(event, context):
    service = wiring.dependencies().stuff
    service.change(event["key"])
""",
}


def _fake(**changes: str) -> Package:
    return Package.from_sources({**FAKE_SOURCES, **changes})


def _grants(package: Package, handler: str) -> set[tuple[str, str]]:
    needs, _, problems = iam_check.function_needs(package, handler)
    assert problems == []
    return {(need.action, need.resource_key) for need in needs}


def test_needs_follow_handler_use_case_port_and_adapter() -> None:
    package = _fake()
    assert _grants(package, "optin.handlers.reader") == {("dynamodb:Query", "index:ByStatus")}
    assert _grants(package, "optin.handlers.writer") == {
        ("dynamodb:PutItem", "table"),  # the transaction's Put item
        ("sms-voice:SendTextMessage", "origination_identity"),
        ("sms-voice:SendTextMessage", "configuration_set"),
    }


def test_a_new_boto3_call_in_an_adapter_becomes_a_need() -> None:
    adapter = FAKE_SOURCES["optin.adapters.dynamo_things"].replace(
        'return self._client().query(TableName="t", IndexName=INDEX)',
        'self._client().get_item(TableName="t")\n        return self._client().scan()',
    )
    package = _fake(**{"optin.adapters.dynamo_things": adapter})
    grants = _grants(package, "optin.handlers.reader")
    # An operation without a RESOURCE_RULES entry needs a resource no policy can name: the
    # comparison reports it missing until someone decides its resource.
    assert grants == {
        ("dynamodb:GetItem", "table"),
        ("dynamodb:Scan", "<no RESOURCE_RULES entry for dynamodb:Scan>"),
    }
    problems = iam_check.compare(
        "Reader", {("dynamodb:GetItem", "t")}, {("dynamodb:GetItem", "t"), ("dynamodb:Scan", "t")}
    )
    assert "Reader: the code calls forbidden dynamodb:Scan" in problems
    assert "Reader: missing dynamodb:Scan on t" in problems


def test_a_port_without_a_boto3_adapter_is_reported() -> None:
    package = _fake(**{"optin.adapters.texts": "class EumTexts:\n    def send(self, to): ...\n"})
    _, _, problems = iam_check.function_needs(package, "optin.handlers.writer")
    assert problems == ["no boto3 adapter in optin.adapters implements optin.ports.things.Texts"]


def test_an_index_given_by_an_unknown_expression_matches_no_grant() -> None:
    adapter = FAKE_SOURCES["optin.adapters.dynamo_things"].replace(
        "IndexName=INDEX", "IndexName=self.index"
    )
    grants = _grants(_fake(**{"optin.adapters.dynamo_things": adapter}), "optin.handlers.reader")
    assert grants == {("dynamodb:Query", "index:?")}


def test_resource_values_come_from_the_function_environment() -> None:
    environment = {
        "CONTACTS_TABLE": "${ContactsTable}",
        "ORIGINATION_IDENTITY": "arn:aws:sms-voice:us-east-1:123456789012:pool/pool-1",
    }
    assert iam_check.resource_value("index:ByStatus", environment) == (
        "${ContactsTable.Arn}/index/ByStatus"
    )
    assert iam_check.resource_value("origination_identity", environment) == (
        "arn:aws:sms-voice:us-east-1:123456789012:pool/pool-1"
    )
    assert iam_check.resource_value("opt_out_list", environment).startswith("<OPT_OUT_LIST_NAME")


def test_env_guarded_calls_are_needed_only_when_switched_on() -> None:
    needs = {iam_check.Need("sms-voice:CarrierLookup", "*", "Lookup.lookup")}
    assert iam_check.expected_grants(needs, {"CARRIER_LOOKUP": "false"}) == set()
    assert iam_check.expected_grants(needs, {"CARRIER_LOOKUP": "true"}) == {
        ("sms-voice:CarrierLookup", "*")
    }


def test_the_template_reader_is_the_local_runtime_s() -> None:
    # One YAML reader for the template in the repo: the check reads what the runtime reads.
    assert iam_check.load_sam(Path(iam_check.TEMPLATE))["Transform"] == (
        "AWS::Serverless-2016-10-31"
    )


@pytest.mark.parametrize(
    "resource",
    [
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:*",
        "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:*:*",
        "*",
    ],
)
def test_executions_of_any_state_machine_are_a_wildcard(
    transformed: dict[str, Any], package: Package, resource: str
) -> None:
    broken = copy.deepcopy(transformed)
    for policy in _policies(broken, "InboundSmsFunctionRole"):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement.get("Sid") == "DescribeRegistrations":
                statement["Resource"] = {"Fn::Sub": resource}
    problems = _problems(broken, package)
    assert f"InboundSmsFunction: wildcard resource {resource} for states:DescribeExecution" in (
        problems
    )
    assert any(
        p.startswith("InboundSmsFunction: missing states:DescribeExecution") for p in problems
    )


def test_the_console_functions_may_read_roles_and_nothing_else(package: Package) -> None:
    for handler in ("optin.handlers.console_session", "optin.handlers.console_authorizer"):
        needs, calls, problems = iam_check.function_needs(package, handler)
        assert problems == []
        assert ("optin.ports.identity.IdentityProvider", "user_of") in calls
        assert {(need.action, need.resource_key) for need in needs} == {
            ("cognito-idp:AdminListGroupsForUser", "user_pool")
        }
    assert iam_check.resource_value("user_pool", {"USER_POOL_ID": "${ConsoleUserPool}"}) == (
        "${ConsoleUserPool.Arn}"
    )


def test_only_operations_botocore_sends_unsigned_go_without_a_grant() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("cognito-idp")
    unsigned = {
        f"cognito-idp:{name}"
        for name in model.operation_names
        if model.operation_model(name).auth_type == "none"
    }
    assert unsigned >= iam_check.NOT_IAM_AUTHORIZED
    assert "cognito-idp:AdminListGroupsForUser" not in unsigned


def test_console_actions_need_writes_texts_and_stops_the_read_api_does_not(
    transformed: dict[str, Any], package: Package
) -> None:
    needs, _, problems = iam_check.function_needs(package, "optin.handlers.console_actions")
    assert problems == []
    actions = {(need.action, need.resource_key) for need in needs}
    assert {
        ("states:StopExecution", "execution"),  # cancel, expire, opt-out
        ("states:SendTaskFailure", "*"),  # opt-out ends the wait as STOP does
        ("states:DescribeExecution", "execution"),  # resend and repair ask first
        ("sms-voice:SendTextMessage", "origination_identity"),  # resend
        ("sms-voice:PutOptedOutNumber", "opt_out_list"),  # opt-out
        ("dynamodb:PutItem", "table"),  # the conditional writes
    } <= actions
    stack = _stack(transformed, {})
    stoppers = {
        role
        for role, statement in _statements(stack)
        if "states:stopexecution" in _actions(statement)
    }
    # The partner API's DELETE opts out through the same code (usecases/partner.py).
    assert stoppers == {"ConsoleActionsFunctionRole", "PartnerApiFunctionRole"}
    read_api = {action for action, _ in stack.grants(stack.role_of("ConsoleFunction"))}
    assert not any(action.startswith(("sms-voice:", "states:Stop")) for action in read_api)
    assert "dynamodb:PutItem" not in read_api


def test_the_idempotency_table_may_be_deleted_from_and_the_contacts_table_still_not(
    transformed: dict[str, Any], package: Package
) -> None:
    """Powertools deletes the Idempotency-Key record of a failed request: DeleteItem is
    granted on IdempotencyTable (a library need, iam_check.LIBRARY_NEEDS) and stays forbidden
    on ContactsTable, for that function too."""
    needs, _, _ = iam_check.function_needs(package, "optin.handlers.partner_api")
    assert ("dynamodb:DeleteItem", "idempotency_table") in {
        (need.action, need.resource_key) for need in needs
    }
    changed = copy.deepcopy(transformed)
    role = changed["Resources"]["PartnerApiFunctionRole"]["Properties"]
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append(
        {
            "Effect": "Allow",
            "Action": "dynamodb:DeleteItem",
            "Resource": {"Fn::GetAtt": ["ContactsTable", "Arn"]},
        }
    )
    problems, _ = iam_check.check_stack(_stack(changed, {}), package)
    assert "PartnerApiFunction: forbidden dynamodb:DeleteItem" in problems
    assert ledger_problems(_stack(changed, {})) == [
        f"PartnerApiFunctionRole may dynamodb:DeleteItem {CONTACT_KEY}",
        f"PartnerApiFunctionRole may dynamodb:DeleteItem {SEND_KEY}",
    ]
    # Without the statement, the library's need shows as missing.
    kept = [s for s in statements if s.get("Sid") != "KeepIdempotencyRecords"]
    role["Policies"][0]["PolicyDocument"]["Statement"] = kept
    problems, _ = iam_check.check_stack(_stack(changed, {}), package)
    assert any("missing dynamodb:DeleteItem on ${IdempotencyTable.Arn}" in p for p in problems)
