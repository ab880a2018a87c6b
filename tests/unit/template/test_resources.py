"""What AWS requires of template.yaml's resources, checked offline.

Each check is a function that returns the problems it finds, so every check is also run against a
copy of the template broken on purpose: a check that cannot fail proves nothing.
Sources: the End User Messaging SMS user guide (two-way SMS to an encrypted SNS topic, opt-outs),
the AWS::SMSVOICE::* CloudFormation reference, the SAM reference (Api, SNS event).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime.cfn_yaml import load_template

REPO = Path(__file__).resolve().parents[3]
Template = dict[str, Any]
Check = Callable[[Template], list[str]]

PSEUDO = {
    "AWS::AccountId",
    "AWS::NoValue",
    "AWS::NotificationARNs",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}
# Resources SAM creates from the functions' Api events, which the template may name.
# Resources SAM generates for the implicit API; the usage plan because Globals.Api.Auth.UsagePlan
# says CreateUsagePlan: PER_API (SAM's docs: <api-logical-id>UsagePlan).
SAM_IMPLICIT = {
    "ServerlessRestApi",
    "ServerlessRestApiProdStage",
    "ServerlessRestApiDeployment",
    "ServerlessRestApiUsagePlan",
}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(REPO / "template.yaml")


def resources(t: Template) -> dict[str, Any]:
    return dict(t.get("Resources") or {})


def props(t: Template, logical_id: str) -> dict[str, Any]:
    return dict(resources(t).get(logical_id, {}).get("Properties") or {})


def of_type(t: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(t).items() if v.get("Type") == kind}


def statements(document: Any) -> list[dict[str, Any]]:
    found = (document or {}).get("Statement") or []
    return [found] if isinstance(found, dict) else list(found)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def principal_services(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    return as_list(principal.get("Service", [])) if isinstance(principal, dict) else []


def conditions_of(statement: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for operator in (statement.get("Condition") or {}).values():
        merged.update(operator)
    return merged


# --- End User Messaging: key, topic, topic policy, number ---


def check_key_lets_end_user_messaging_encrypt(t: Template) -> list[str]:
    """The user guide's grant for encrypted two-way topics: GenerateDataKey* and Decrypt."""
    policy = props(t, "InboundSmsKey").get("KeyPolicy")
    if not policy:
        return ["InboundSmsKey has no key policy"]
    problems = []
    grants = [
        s
        for s in statements(policy)
        if s.get("Effect") == "Allow" and "sms-voice.amazonaws.com" in principal_services(s)
    ]
    actions = {a for s in grants for a in as_list(s.get("Action"))}
    for needed in ("kms:GenerateDataKey*", "kms:Decrypt"):
        if needed not in actions:
            problems.append(f"key policy does not grant sms-voice {needed}")
    for s in grants:
        keys = conditions_of(s)
        if "aws:SourceAccount" not in keys or "aws:SourceArn" not in keys:
            problems.append("sms-voice key grant lacks aws:SourceAccount/aws:SourceArn")
    # Without a statement for the account the key could not be administered or deleted again.
    if not any(
        isinstance(s.get("Principal"), dict)
        and "AWS" in s["Principal"]
        and "kms:*" in as_list(s.get("Action"))
        for s in statements(policy)
    ):
        problems.append("key policy has no statement for the account: the key would be locked")
    return problems


def check_topic_uses_the_customer_managed_key(t: Template) -> list[str]:
    key = props(t, "InboundSmsTopic").get("KmsMasterKeyId")
    if key in ({"Fn::GetAtt": ["InboundSmsKey", "Arn"]}, {"Ref": "InboundSmsKey"}):
        return []
    return [f"InboundSmsTopic is encrypted with {key!r}, not InboundSmsKey"]


def check_topic_policy_lets_end_user_messaging_publish(t: Template) -> list[str]:
    for policy in of_type(t, "AWS::SNS::TopicPolicy").values():
        p = policy.get("Properties") or {}
        if {"Ref": "InboundSmsTopic"} not in as_list(p.get("Topics")):
            continue
        for s in statements(p.get("PolicyDocument")):
            if (
                s.get("Effect") == "Allow"
                and "sms-voice.amazonaws.com" in principal_services(s)
                and "sns:Publish" in as_list(s.get("Action"))
            ):
                keys = conditions_of(s)
                if "aws:SourceAccount" in keys and "aws:SourceArn" in keys:
                    return []
                return ["topic policy lets sms-voice publish without SourceAccount/SourceArn"]
    return ["no topic policy lets sms-voice.amazonaws.com publish to InboundSmsTopic"]


def check_number_is_wired_for_self_managed_two_way_sms(t: Template) -> list[str]:
    number = resources(t).get("OriginationNumber") or {}
    p = number.get("Properties") or {}
    problems = []
    if number.get("Type") != "AWS::SMSVOICE::PhoneNumber":
        return ["no AWS::SMSVOICE::PhoneNumber OriginationNumber"]
    if number.get("Condition") != "CreatePhoneNumber":
        problems.append("OriginationNumber is not conditional on CreatePhoneNumber")
    if p.get("SelfManagedOptOutsEnabled") is not True:
        problems.append("opt-outs are not self-managed: AWS would answer HELP/STOP as well")
    if p.get("TwoWay") != {"Enabled": True, "ChannelArn": {"Ref": "InboundSmsTopic"}}:
        problems.append(f"two-way SMS does not go to InboundSmsTopic: {p.get('TwoWay')!r}")
    if p.get("OptOutListName") != {"Ref": "SmsOptOutList"}:
        problems.append("the number is not attached to SmsOptOutList")
    if set(p.get("MandatoryKeywords") or {}) != {"HELP", "STOP"}:
        problems.append("MandatoryKeywords must give HELP and STOP (the resource requires both)")
    if "InboundSmsTopicPolicy" not in as_list(number.get("DependsOn", [])):
        problems.append("the number may be created before the topic policy lets it publish")
    if number.get("DeletionPolicy") != "Retain" or number.get("UpdateReplacePolicy") != "Retain":
        problems.append("a registered number would be released with the stack")
    return problems


def check_configuration_set_records_delivery_events(t: Template) -> list[str]:
    destinations = props(t, "SmsConfigurationSet").get("EventDestinations") or []
    enabled = [d for d in destinations if d.get("Enabled") is True]
    if not enabled:
        return ["SmsConfigurationSet has no enabled event destination"]
    types = {e for d in enabled for e in d.get("MatchingEventTypes", [])}
    if not types & {"ALL", "TEXT_ALL", "TEXT_DELIVERED"}:
        return [f"delivery events are not among {sorted(types)}"]
    return []


def check_functions_get_the_agreed_environment(t: Template) -> list[str]:
    env = t["Globals"]["Function"]["Environment"]["Variables"]
    problems = [
        f"Globals lack {name}"
        for name in (
            "ORIGINATION_IDENTITY",
            "OPT_OUT_LIST_NAME",
            "CONFIGURATION_SET_NAME",
            "CARRIER_LOOKUP",
            "CONTACTS_TABLE",
        )
        if name not in env
    ]
    expected = {
        "Fn::If": [
            "CreatePhoneNumber",
            {"Fn::GetAtt": ["OriginationNumber", "Arn"]},
            {"Ref": "ExistingOriginationIdentity"},
        ]
    }
    if env.get("ORIGINATION_IDENTITY") != expected:
        problems.append(f"ORIGINATION_IDENTITY is {env.get('ORIGINATION_IDENTITY')!r}")
    for function in ("SignupFunction", "InboundSmsFunction"):
        variables = (props(t, function).get("Environment") or {}).get("Variables") or {}
        if variables.get("STATE_MACHINE_ARN") != {"Ref": "RegistrationStateMachine"}:
            problems.append(f"{function} lacks STATE_MACHINE_ARN")
    default = (t.get("Parameters") or {}).get("ExistingOriginationIdentity", {}).get("Default")
    if default != "":
        problems.append(f"ExistingOriginationIdentity defaults to {default!r}, not a created one")
    return problems


# --- Consent evidence, failures that must not be lost ---


def check_table_keeps_the_evidence(t: Template) -> list[str]:
    table = resources(t).get("ContactsTable") or {}
    p = table.get("Properties") or {}
    problems = []
    if table.get("DeletionPolicy") != "Retain" or table.get("UpdateReplacePolicy") != "Retain":
        problems.append("ContactsTable is not retained on delete and replace")
    if (p.get("PointInTimeRecoverySpecification") or {}).get(
        "PointInTimeRecoveryEnabled"
    ) is not True:
        problems.append("ContactsTable has no point-in-time recovery")
    if (p.get("SSESpecification") or {}).get("SSEEnabled") is not True:
        problems.append("ContactsTable is not encrypted with SSESpecification")
    return problems


def check_inbound_failures_reach_the_dead_letter_queue(t: Template) -> list[str]:
    dlq_arn = {"Fn::GetAtt": ["InboundSmsDeadLetterQueue", "Arn"]}
    fn = props(t, "InboundSmsFunction")
    problems = []
    sns_events = [e for e in (fn.get("Events") or {}).values() if e.get("Type") == "SNS"]
    if not sns_events or any(
        (e.get("Properties") or {}).get("RedrivePolicy") != {"deadLetterTargetArn": dlq_arn}
        for e in sns_events
    ):
        problems.append("the SNS subscription has no redrive policy to the DLQ")
    on_failure = ((fn.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get(
        "OnFailure"
    ) or {}
    if on_failure != {"Type": "SQS", "Destination": dlq_arn}:
        problems.append("failed invocations have no on-failure destination to the DLQ")
    queue = props(t, "InboundSmsDeadLetterQueue")
    if queue.get("SqsManagedSseEnabled") is not True and not queue.get("KmsMasterKeyId"):
        problems.append("the DLQ is not encrypted")
    sns_may_send = False
    for policy in of_type(t, "AWS::SQS::QueuePolicy").values():
        p = policy.get("Properties") or {}
        if {"Ref": "InboundSmsDeadLetterQueue"} not in as_list(p.get("Queues")):
            continue
        for s in statements(p.get("PolicyDocument")):
            if "sns.amazonaws.com" in principal_services(s) and conditions_of(s).get(
                "aws:SourceArn"
            ) == {"Ref": "InboundSmsTopic"}:
                sns_may_send = True
    if not sns_may_send:
        problems.append("no queue policy lets InboundSmsTopic's SNS write to the DLQ")
    return problems


def alarm_on(t: Template, namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        a.get("Properties") or {}
        for a in of_type(t, "AWS::CloudWatch::Alarm").values()
        if (a.get("Properties") or {}).get("Namespace") == namespace
        and (a.get("Properties") or {}).get("MetricName") == metric
    ]


def check_alarms_watch_what_must_not_fail_silently(t: Template) -> list[str]:
    wanted = {
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): (
            "QueueName",
            {"Fn::GetAtt": ["InboundSmsDeadLetterQueue", "QueueName"]},
        ),
        ("AWS/Lambda", "Errors"): ("FunctionName", {"Ref": "InboundSmsFunction"}),
        ("AWS/States", "ExecutionsFailed"): (
            "StateMachineArn",
            {"Ref": "RegistrationStateMachine"},
        ),
        ("SmsOptin", "SmsConfigurationError"): ("service", "sms-optin"),
    }
    problems = []
    for (namespace, metric), dimension in wanted.items():
        found = [
            a
            for a in alarm_on(t, namespace, metric)
            if {"Name": dimension[0], "Value": dimension[1]} in (a.get("Dimensions") or [])
        ]
        if not found:
            problems.append(f"no alarm on {namespace} {metric} for {dimension[1]!r}")
        elif not all(a.get("AlarmActions") == [{"Ref": "AlarmTopic"}] for a in found):
            problems.append(f"the {metric} alarm notifies no one")
    return problems


# --- The public API and the form ---


def api_events(t: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, fn in of_type(t, "AWS::Serverless::Function").items():
        for event in ((fn.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") in ("Api", "HttpApi"):
                yield logical_id, event.get("Properties") or {}


def check_public_api_is_only_what_the_public_needs(t: Template) -> list[str]:
    routes = {(fn, p.get("Method", "").upper(), p.get("Path")) for fn, p in api_events(t)}
    problems = [f"{r} is public" for r in routes if str(r[2]).startswith("/contacts")]
    for needed in (
        ("SignupFunction", "POST", "/signups"),
        ("SignupFunction", "GET", "/signups/{registrationId}"),
        ("SignupFunction", "GET", "/disclosure"),
    ):
        if needed not in routes:
            problems.append(f"missing route {needed}")
    return problems


def check_cors_and_throttling(t: Template) -> list[str]:
    api = (t.get("Globals") or {}).get("Api") or {}
    problems = []
    origin = (api.get("Cors") or {}).get("AllowOrigin")
    if origin is None or "*" in str(origin):
        problems.append(f"CORS allows {origin!r}")
    parameter = (t.get("Parameters") or {}).get("AllowedOrigins") or {}
    pattern = parameter.get("AllowedPattern", "")
    for bad in ("*", "https://*.example.com", "http://example.com", "https://a.com,https://b"):
        if re.fullmatch(pattern, bad):
            problems.append(f"AllowedOrigins accepts {bad!r}")
    if not re.fullmatch(pattern, str(parameter.get("Default", ""))):
        problems.append("AllowedOrigins' default breaks its own pattern")
    limits = {
        key: setting.get(key)
        for setting in api.get("MethodSettings") or []
        if setting.get("ResourcePath") == "/*" and setting.get("HttpMethod") == "*"
        for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit")
    }
    params = t.get("Parameters") or {}
    for key, value in limits.items():
        default = params.get(value.get("Ref", ""), {}).get("Default") if value else None
        if not isinstance(default, int) or not 1 <= default <= 1000:
            problems.append(f"{key} has no sane default ({default!r})")
    if set(limits) != {"ThrottlingRateLimit", "ThrottlingBurstLimit"}:
        problems.append("the API stage is not throttled")
    return problems


def check_web_form_is_private_behind_cloudfront(t: Template) -> list[str]:
    problems = []
    block = props(t, "WebBucket").get("PublicAccessBlockConfiguration") or {}
    if not block or not all(block.values()) or len(block) != 4:
        problems.append("WebBucket does not block public access")
    readers = [
        s
        for s in statements(props(t, "WebBucketPolicy").get("PolicyDocument"))
        if s.get("Effect") == "Allow"
    ]
    if not readers or any(
        principal_services(s) != ["cloudfront.amazonaws.com"]
        or "AWS:SourceArn" not in conditions_of(s)
        for s in readers
    ):
        problems.append("WebBucket is readable by something other than this distribution")
    config = props(t, "WebDistribution").get("DistributionConfig") or {}
    origins = {o.get("Id"): o for o in config.get("Origins") or []}
    if (origins.get("web") or {}).get("OriginAccessControlId") != {
        "Fn::GetAtt": ["WebOriginAccessControl", "Id"]
    }:
        problems.append("the bucket origin does not sign with the origin access control")
    api_paths = {
        b.get("PathPattern")
        for b in config.get("CacheBehaviors") or []
        if b.get("TargetOriginId") == "api"
    }
    for path in ("/signups", "/signups/*", "/disclosure"):
        if path not in api_paths:
            problems.append(f"{path} does not reach the API on the form's origin")
    if any(str(p).startswith("/contacts") for p in api_paths):
        problems.append("CloudFront exposes /contacts")
    if "WebUrl" not in (t.get("Outputs") or {}):
        problems.append("no WebUrl output")
    return problems


# --- Every reference has a target ---


def check_references_resolve(t: Template) -> list[str]:
    params = set(t.get("Parameters") or {})
    res = resources(t)
    conditions = set(t.get("Conditions") or {})
    known = params | set(res) | PSEUDO | SAM_IMPLICIT
    problems: list[str] = []

    def target_condition(name: str) -> str | None:
        return (res.get(name) or {}).get("Condition")

    def visit(node: Any, where: str, own_condition: str | None, in_if: bool) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, where, own_condition, in_if)
            return
        if not isinstance(node, dict):
            return
        names: list[str] = []
        for key, arg in node.items():
            if key == "Ref" and isinstance(arg, str):
                names.append(arg)
            elif key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                if parts[0] not in res and parts[0] not in SAM_IMPLICIT:
                    problems.append(f"{where}: !GetAtt {parts[0]} has no such resource")
                names.append(parts[0])
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for ref in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    base = ref.split(".", 1)[0]
                    if ref not in variables and base not in variables:
                        names.append(base)
            elif key in ("Fn::If",) and isinstance(arg, list) and arg:
                if arg[0] not in conditions:
                    problems.append(f"{where}: Fn::If on undeclared condition {arg[0]}")
                visit(arg[1:], where, own_condition, True)
                continue
            elif (
                key in ("Condition", "Fn::Condition")
                and isinstance(arg, str)
                and where.startswith("Conditions")
                and arg not in conditions
            ):
                problems.append(f"{where}: condition {arg} is not declared")
            visit(arg, where, own_condition, in_if)
        for name in names:
            if name not in known:
                problems.append(f"{where}: {name} is neither a parameter nor a resource")
            condition = target_condition(name)
            if condition and condition != own_condition and not in_if:
                problems.append(f"{where}: uses {name}, which exists only if {condition}")

    visit(t.get("Conditions") or {}, "Conditions", None, False)
    visit(t.get("Globals") or {}, "Globals", None, False)
    for logical_id, resource in res.items():
        own = resource.get("Condition")
        if own is not None and own not in conditions:
            problems.append(f"{logical_id}: Condition {own} is not declared")
        for dependency in as_list(resource.get("DependsOn", [])):
            if dependency not in res and dependency not in SAM_IMPLICIT:
                problems.append(f"{logical_id}: DependsOn {dependency} has no such resource")
        visit(resource.get("Properties") or {}, logical_id, own, False)
    for name, output in (t.get("Outputs") or {}).items():
        visit(output.get("Value"), f"Outputs.{name}", output.get("Condition"), False)
    return problems


CHECKS: list[Check] = [
    check_key_lets_end_user_messaging_encrypt,
    check_topic_uses_the_customer_managed_key,
    check_topic_policy_lets_end_user_messaging_publish,
    check_number_is_wired_for_self_managed_two_way_sms,
    check_configuration_set_records_delivery_events,
    check_functions_get_the_agreed_environment,
    check_table_keeps_the_evidence,
    check_inbound_failures_reach_the_dead_letter_queue,
    check_alarms_watch_what_must_not_fail_silently,
    check_public_api_is_only_what_the_public_needs,
    check_cors_and_throttling,
    check_web_form_is_private_behind_cloudfront,
    check_references_resolve,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_template_meets_what_aws_requires(template: Template, check: Check) -> None:
    assert check(template) == []


# --- Each check against a template broken on purpose ---


def _set(path: list[Any], value: Any) -> Callable[[Template], None]:
    def apply(t: Template) -> None:
        node: Any = t
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return apply


def _delete(path: list[Any]) -> Callable[[Template], None]:
    def apply(t: Template) -> None:
        node: Any = t
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return apply


def _drop_sms_voice_from_key(t: Template) -> None:
    policy = t["Resources"]["InboundSmsKey"]["Properties"]["KeyPolicy"]
    policy["Statement"] = [
        s for s in policy["Statement"] if "sms-voice.amazonaws.com" not in principal_services(s)
    ]


def _decrypt_only(t: Template) -> None:
    for s in t["Resources"]["InboundSmsKey"]["Properties"]["KeyPolicy"]["Statement"]:
        if "sms-voice.amazonaws.com" in principal_services(s):
            s["Action"] = ["kms:Decrypt"]


def _add_contacts_route(t: Template) -> None:
    t["Resources"]["ContactStatusFunction"]["Properties"]["Events"] = {
        "GetContact": {"Type": "Api", "Properties": {"Path": "/contacts/{p}", "Method": "get"}}
    }


R = "Resources"
INBOUND_SNS_EVENT = [R, "InboundSmsFunction", "Properties", "Events", "InboundSms", "Properties"]
BROKEN: list[tuple[Check, Callable[[Template], None], str]] = [
    (check_key_lets_end_user_messaging_encrypt, _drop_sms_voice_from_key, "kms:GenerateDataKey*"),
    (check_key_lets_end_user_messaging_encrypt, _decrypt_only, "kms:GenerateDataKey*"),
    (
        check_topic_uses_the_customer_managed_key,
        _set([R, "InboundSmsTopic", "Properties", "KmsMasterKeyId"], "alias/aws/sns"),
        "alias/aws/sns",
    ),
    (
        check_topic_policy_lets_end_user_messaging_publish,
        _delete([R, "InboundSmsTopicPolicy"]),
        "no topic policy",
    ),
    (
        check_number_is_wired_for_self_managed_two_way_sms,
        _set([R, "OriginationNumber", "Properties", "SelfManagedOptOutsEnabled"], False),
        "not self-managed",
    ),
    (
        check_number_is_wired_for_self_managed_two_way_sms,
        _set([R, "OriginationNumber", "DependsOn"], []),
        "before the topic policy",
    ),
    (
        check_configuration_set_records_delivery_events,
        _set([R, "SmsConfigurationSet", "Properties", "EventDestinations"], []),
        "no enabled event destination",
    ),
    (
        check_functions_get_the_agreed_environment,
        _set(["Parameters", "ExistingOriginationIdentity", "Default"], "+12065550142"),
        "defaults to",
    ),
    (
        check_table_keeps_the_evidence,
        _set([R, "ContactsTable", "DeletionPolicy"], "Delete"),
        "not retained",
    ),
    (
        check_table_keeps_the_evidence,
        _delete([R, "ContactsTable", "Properties", "PointInTimeRecoverySpecification"]),
        "point-in-time",
    ),
    (
        check_inbound_failures_reach_the_dead_letter_queue,
        _delete([R, "InboundSmsFunction", "Properties", "EventInvokeConfig"]),
        "on-failure destination",
    ),
    (
        check_inbound_failures_reach_the_dead_letter_queue,
        _delete([*INBOUND_SNS_EVENT, "RedrivePolicy"]),
        "redrive policy",
    ),
    (
        check_alarms_watch_what_must_not_fail_silently,
        _delete([R, "SmsConfigurationErrorAlarm"]),
        "SmsConfigurationError",
    ),
    (check_public_api_is_only_what_the_public_needs, _add_contacts_route, "is public"),
    (
        check_cors_and_throttling,
        _set(["Globals", "Api", "Cors", "AllowOrigin"], "'*'"),
        "CORS allows",
    ),
    (
        check_cors_and_throttling,
        _set(["Parameters", "AllowedOrigins", "AllowedPattern"], ".*"),
        "accepts '*'",
    ),
    (
        check_cors_and_throttling,
        _delete(["Globals", "Api", "MethodSettings"]),
        "not throttled",
    ),
    (
        check_web_form_is_private_behind_cloudfront,
        _set([R, "WebBucket", "Properties", "PublicAccessBlockConfiguration"], {}),
        "block public access",
    ),
    (
        check_references_resolve,
        _set([R, "SignupFunction", "Properties", "Environment", "Variables", "X"], {"Ref": "Nope"}),
        "Nope is neither",
    ),
    (
        check_references_resolve,
        _set(["Globals", "Function", "Environment", "Variables", "X"], {"Fn::Sub": "${Nope.Arn}"}),
        "Nope is neither",
    ),
    (
        check_references_resolve,
        _set(["Outputs", "X"], {"Value": {"Fn::GetAtt": ["Nope", "Arn"]}}),
        "!GetAtt Nope",
    ),
    (
        check_references_resolve,
        _set(["Outputs", "X"], {"Value": {"Fn::GetAtt": ["OriginationNumber", "Arn"]}}),
        "exists only if CreatePhoneNumber",
    ),
    (
        check_references_resolve,
        _set(["Outputs", "X"], {"Value": {"Fn::If": ["NoSuchCondition", "a", "b"]}}),
        "undeclared condition",
    ),
]


@pytest.mark.parametrize(
    ("check", "break_it", "message"),
    BROKEN,
    ids=[f"{c.__name__.removeprefix('check_')}-{m}" for c, _, m in BROKEN],
)
def test_each_check_catches_a_broken_template(
    template: Template, check: Check, break_it: Callable[[Template], None], message: str
) -> None:
    broken = copy.deepcopy(template)
    break_it(broken)

    problems = check(broken)

    assert any(message in p for p in problems), problems


def test_the_deployed_pages_send_the_local_runtimes_security_headers(template: Template) -> None:
    """No open doors on AWS either: CloudFront adds to every answer the CSP (no framing, own
    scripts only), nosniff and no-referrer that the local runtime sends."""
    from local.runtime.security import PAGE_CSP, security_headers

    found = resources(template)
    policy = found["WebSecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]
    headers = policy["SecurityHeadersConfig"]
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == PAGE_CSP
    assert headers["FrameOptions"]["FrameOption"] == security_headers(True)["X-Frame-Options"]
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == security_headers(True)["Referrer-Policy"]
    assert "ContentTypeOptions" in headers
    config = found["WebDistribution"]["Properties"]["DistributionConfig"]
    behaviours = [config["DefaultCacheBehavior"], *config["CacheBehaviors"]]
    assert all(
        b.get("ResponseHeadersPolicyId") == {"Ref": "WebSecurityHeaders"} for b in behaviours
    )
