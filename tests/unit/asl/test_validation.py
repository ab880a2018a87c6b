"""The definition checks, one by one: a definition AWS accepts gives no ERROR, the same
definition with one fault gives the diagnostic AWS gives (code, message, location)."""

from __future__ import annotations

import copy
import json
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from local.stepfunctions.errors import ApiError
from local.stepfunctions.validation import ERROR, WARNING, parse_checked, validate
from local.stepfunctions.validation.__main__ import main, substitute_placeholders

LAMBDA = "arn:aws:states:::lambda:invoke"
CORPUS = pathlib.Path(__file__).resolve().parents[3] / ".." / "shared" / "conformance" / "cases"


def good() -> dict[str, Any]:
    """A definition touching every family of checks, which AWS accepts."""
    return {
        "Comment": "valid",
        "StartAt": "Task",
        "States": {
            "Task": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": {"FunctionName": "f", "Payload.$": "$.in"},
                "ResultSelector": {"n.$": "States.ArrayLength($.Payload)"},
                "ResultPath": "$.out",
                "TimeoutSeconds": 10,
                "HeartbeatSeconds": 5,
                "Retry": [
                    {"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1},
                    {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0},
                ],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Choose",
            },
            "Choose": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.out.n", "NumericGreaterThan": 1, "Next": "Wait"},
                    {
                        "And": [
                            {"Variable": "$.a", "IsPresent": True},
                            {"Not": {"Variable": "$.a", "StringEquals": "x"}},
                        ],
                        "Next": "Fan",
                    },
                ],
                "Default": "Done",
            },
            "Wait": {"Type": "Wait", "Timestamp": "2030-01-01T00:00:00Z", "Next": "Done"},
            "Fan": {
                "Type": "Parallel",
                "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": True}}}],
                "Next": "Each",
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "M1",
                    "States": {"M1": {"Type": "Pass", "End": True}},
                },
                "Next": "Jsonata",
            },
            "Jsonata": {
                "Type": "Pass",
                "QueryLanguage": "JSONata",
                "Output": {"sum": "{% $sum($states.input.items) %}"},
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "E", "CausePath": "$.why"},
        },
    }


def errors_of(definition: Any, machine_type: str = "STANDARD") -> list[tuple[str, str, Any]]:
    text = definition if isinstance(definition, str) else json.dumps(definition)
    _, found = validate(text, machine_type)
    return [(d.code, d.message, d.location) for d in found if d.severity == ERROR]


def test_the_good_definition_has_no_finding() -> None:
    assert validate(json.dumps(good()))[1] == []


S = "SCHEMA_VALIDATION_FAILED"
T = "MISSING_TRANSITION_TARGET"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A fault: set the field at "States/A/B" (a missing value deletes it)."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        key: Any = int(last) if isinstance(node, list) else last
        if value is _DELETE:
            del node[key]
        else:
            node[key] = value

    return apply


_DELETE = object()

FAULTS: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str, str, Any]]] = [
    # top level and state types
    ("no StartAt", _set("StartAt", _DELETE), (S, "These fields are required: [StartAt]", "/")),
    (
        "unknown top-level field",
        _set("Coment", "typo"),
        (S, "Field 'Coment' is not supported", "/"),
    ),
    (
        "bad state type",
        _set("States/Done/Type", "Stop"),
        (
            S,
            "The field 'Type' should have one of these values: "
            "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]",
            "/States/Done/Type",
        ),
    ),
    (
        "field the state type does not take",
        _set("States/Wait/TimeoutSeconds", 3),
        (S, "Field 'TimeoutSeconds' is not supported", "/States/Wait"),
    ),
    (
        "Catch on a Pass state",
        _set("States/Jsonata/Catch", [{"ErrorEquals": ["States.ALL"], "Next": "Done"}]),
        (S, "Field 'Catch' is not supported", "/States/Jsonata"),
    ),
    (
        "Task without Resource",
        _set("States/Task/Resource", _DELETE),
        (S, "These fields are required: [Resource]", "/States/Task"),
    ),
    (
        "empty Branches",
        _set("States/Fan/Branches", []),
        (S, "Value cannot be empty", "/States/Fan/Branches"),
    ),
    (
        "state name over 80 characters",
        lambda doc: doc["States"].update(
            {"N" * 81: {"Type": "Pass", "End": True}}, Done={"Type": "Pass", "Next": "N" * 81}
        ),
        ("INVALID_STATE_NAME", "State name must be 1 to 80 characters", "/States/" + "N" * 81),
    ),
    # transitions
    (
        "StartAt names no state",
        _set("StartAt", "Nope"),
        (T, "Missing 'Next' target: Nope", "/StartAt"),
    ),
    (
        "dangling Next",
        _set("States/Wait/Next", "Nowhere"),
        (T, "Missing 'Next' target: Nowhere", "/States/Wait/Next"),
    ),
    (
        "dangling Catch target",
        _set("States/Task/Catch/0/Next", "Nowhere"),
        (T, "Missing 'Next' target: Nowhere", "/States/Task/Catch[0]/Next"),
    ),
    (
        "dangling Default",
        _set("States/Choose/Default", "Nowhere"),
        (T, "Missing 'Next' target: Nowhere", "/States/Choose/Default"),
    ),
    (
        "unreachable state",
        _set("States/Orphan", {"Type": "Pass", "End": True}),
        (T, 'State "Orphan" is not reachable.', "/States/Orphan"),
    ),
    (
        "neither Next nor End",
        _set("States/Wait/Next", _DELETE),
        (S, "These fields are required: [Next or End=true]", "/States/Wait"),
    ),
    (
        "both Next and End",
        _set("States/Wait/End", True),
        (S, "There should only be one of the following fields: [Next, End]", "/States/Wait"),
    ),
    (
        "a Next out of a branch",
        _set("States/Fan/Branches/0/States/B1/Next", "Wait"),
        (T, "Missing 'Next' target: Wait", "/States/Fan/Branches[0]/States/B1/Next"),
    ),
    (
        "unreachable state inside a Map",
        _set("States/Each/ItemProcessor/States/M2", {"Type": "Succeed"}),
        (T, 'State "M2" is not reachable.', "/States/Each/ItemProcessor/States/M2"),
    ),
    (
        "same state name in two machines",
        _set(
            "States/Each/ItemProcessor",
            {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}},
        ),
        (
            "DUPLICATE_STATE_NAME",
            "Duplicate State name: 'Done'",
            "/States/Each/ItemProcessor/States/Done",
        ),
    ),
    # paths and expressions
    (
        "bad InputPath",
        _set("States/Wait/InputPath", "$.a[("),
        (S, "The value for the field 'InputPath' must be a valid JSONPath", "/States/Wait"),
    ),
    (
        "ResultPath that is no reference path",
        _set("States/Task/ResultPath", "$.a[*]"),
        (S, "The value for the field 'ResultPath' must be a valid ReferencePath", "/States/Task"),
    ),
    (
        "bad .$ value",
        _set("States/Task/Parameters/x.$", "not a path"),
        (
            S,
            "The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/Task/Parameters",
        ),
    ),
    (
        "bad intrinsic call",
        _set("States/Task/ResultSelector/n.$", "States.ArrayLength($.Payload"),
        (
            S,
            "The value for the field 'n.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/Task/ResultSelector",
        ),
    ),
    (
        "unknown intrinsic function",
        _set("States/Task/ResultSelector/n.$", "States.ArrayLen($.Payload)"),
        (
            S,
            "The value for the field 'n.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/Task/ResultSelector",
        ),
    ),
    (
        "unknown field in a retrier",
        _set("States/Task/Retry/0/Interval", 1),
        (S, "Field 'Interval' is not supported", "/States/Task/Retry[0]"),
    ),
    (
        "bad Choice Variable",
        _set("States/Choose/Choices/0/Variable", "out.n"),
        (
            S,
            "The value for the field 'Variable' must be a valid JSONPath",
            "/States/Choose/Choices[0]",
        ),
    ),
    (
        "JSONata expression that does not parse",
        _set("States/Jsonata/Output/sum", "{% $sum( %}"),
        ("INVALID_JSONATA_EXPRESSION", None, "/States/Jsonata/Output/sum"),
    ),
    # query languages
    (
        "JSONPath field in a JSONata state",
        _set("States/Jsonata/ResultPath", "$.x"),
        (
            S,
            "The QueryLanguage is set to 'JSONata', but field 'ResultPath' is only supported "
            "for the 'JSONPath' QueryLanguage",
            "/States/Jsonata",
        ),
    ),
    (
        "Arguments under JSONPath",
        _set("States/Task/Arguments", {"FunctionName": "f"}),
        (
            S,
            "The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only supported "
            "for the 'JSONata' QueryLanguage",
            "/States/Task",
        ),
    ),
    (
        "a JSONPath state in a JSONata machine",
        lambda doc: doc.update(
            QueryLanguage="JSONata",
            States={"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}},
            StartAt="P",
        ),
        (
            S,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
            "/States/P",
        ),
    ),
    (
        "QueryLanguage on a Map processor",
        _set("States/Each/ItemProcessor/QueryLanguage", "JSONata"),
        (S, "Field 'QueryLanguage' is not supported", "/States/Each/ItemProcessor"),
    ),
    # choice rules
    (
        "choice rule without a comparison",
        _set("States/Choose/Choices/0", {"Variable": "$.a", "Next": "Wait"}),
        (
            S,
            "A choice rule must have exactly one comparison or combinator",
            "/States/Choose/Choices[0]",
        ),
    ),
    (
        "nested rule with a Next",
        _set("States/Choose/Choices/1/And/0/Next", "Done"),
        (S, "Field 'Next' is not supported", "/States/Choose/Choices[1]/And[0]"),
    ),
    # fields
    (
        "unknown States.* error name",
        _set("States/Task/Retry/0/ErrorEquals", ["States.Timeot"]),
        (S, "Unrecognized error name: States.Timeot", "/States/Task/Retry[0]/ErrorEquals"),
    ),
    (
        "States.ALL not in the last retrier",
        _set("States/Task/Retry", [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["E"]}]),
        (S, "States.ALL must be in the last Retrier", "/States/Task/Retry[0]"),
    ),
    (
        "States.ALL with other names",
        _set("States/Task/Catch/0/ErrorEquals", ["States.ALL", "E"]),
        (S, "States.ALL must appear alone in ErrorEquals", "/States/Task/Catch[0]/ErrorEquals"),
    ),
    (
        "HeartbeatSeconds not below TimeoutSeconds",
        _set("States/Task/HeartbeatSeconds", 10),
        (S, "HeartbeatSeconds must be smaller than TimeoutSeconds", "/States/Task"),
    ),
    (
        "both Seconds and SecondsPath",
        _set("States/Wait", {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "Done"}),
        (
            S,
            "There should only be one of the following fields: [Seconds, SecondsPath]",
            "/States/Wait",
        ),
    ),
    (
        "a Wait with no timer",
        _set("States/Wait/Timestamp", _DELETE),
        (
            S,
            "Exactly one of these fields is required: "
            "[Seconds, SecondsPath, Timestamp, TimestampPath]",
            "/States/Wait",
        ),
    ),
    (
        "a timestamp that is not RFC 3339",
        _set("States/Wait/Timestamp", "2030-01-01 00:00:00Z"),
        (S, "String does not match RFC3339 timestamp", "/States/Wait/Timestamp"),
    ),
    (
        "a retry interval of 0",
        _set("States/Task/Retry/0/IntervalSeconds", 0),
        (S, "Minimum value is 1", "/States/Task/Retry[0]/IntervalSeconds"),
    ),
    (
        "negative TimeoutSeconds",
        _set("States/Task/TimeoutSeconds", -1),
        (S, "Minimum value is 1", "/States/Task/TimeoutSeconds"),
    ),
]


@pytest.mark.parametrize(
    ("fault", "expected"), [(f[1], f[2]) for f in FAULTS], ids=[f[0] for f in FAULTS]
)
def test_each_fault_gives_its_diagnostic(
    fault: Callable[[dict[str, Any]], None], expected: tuple[str, str | None, str]
) -> None:
    doc = copy.deepcopy(good())
    fault(doc)
    found = errors_of(doc)
    code, message, location = expected
    matching = [f for f in found if f[0] == code and f[2] == location]
    assert matching, found
    if message is not None:
        assert (code, message, location) in found, found


def test_a_loop_with_no_terminal_state() -> None:
    loop = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
    }
    assert errors_of(loop) == [("MISSING_END_STATE", "Workflow has no terminal state", None)]
    # an unreachable terminal state makes it an unreachable-state finding instead (AWS)
    loop["States"]["C"] = {"Type": "Pass", "End": True}
    assert errors_of(loop) == [(T, 'State "C" is not reachable.', "/States/C")]


def test_not_a_definition() -> None:
    assert errors_of(" ") == [(S, "Definition must be a valid JSON object", None)]
    assert errors_of("{}") == [(S, "These fields are required: [States, StartAt]", "/")]
    [(code, _, location)] = errors_of("not a definition")
    assert (code, location) == ("INVALID_JSON_DESCRIPTION", "line: 1, column: 1")


def test_express_refuses_callbacks_and_sync() -> None:
    doc = good()
    doc["States"]["Task"]["Resource"] = LAMBDA + ".waitForTaskToken"
    assert errors_of(doc) == []
    assert errors_of(doc, "EXPRESS") == [
        (
            S,
            "Express state machine does not support '.waitForTaskToken' service integration ",
            "/States/Task/Resource",
        )
    ]


def test_no_dollar_is_a_warning_not_an_error() -> None:
    doc = good()
    doc["States"]["Task"]["Parameters"]["Payload"] = "$.in"
    _, found = validate(json.dumps(doc))
    assert [(d.severity, d.code, d.location) for d in found] == [
        (WARNING, "NO_DOLLAR", "/States/Task/Parameters/Payload")
    ]
    assert parse_checked(json.dumps(doc)) == doc


def test_static_paths_are_warnings() -> None:
    doc = good()
    doc["States"]["Failed"] = {"Type": "Fail", "Error": "E", "Cause": "$.why"}
    doc["States"]["Wait"] = {"Type": "Pass", "Result": {"x.$": "$.a"}, "Next": "Done"}
    _, found = validate(json.dumps(doc))
    assert [(d.severity, d.code, d.location) for d in found] == [
        (WARNING, "PASS_RESULT_IS_STATIC", "/States/Wait/Result"),
        (WARNING, "NO_PATH", "/States/Failed/Cause"),
    ]


def test_parse_checked_raises_aws_invalid_definition() -> None:
    doc = {
        "StartAt": "pass1",
        "States": {
            "pass1": {"Type": "Pass", "Next": "pass3"},
            "pass2": {"Type": "Pass", "End": True},
        },
    }
    with pytest.raises(ApiError) as e:
        parse_checked(json.dumps(doc))
    assert e.value.type_name == "InvalidDefinition"
    # the message AWS gave for this definition (localstack issue 11978)
    assert e.value.message == (
        "Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'Next' target: "
        'pass3 at /States/pass1/Next, MISSING_TRANSITION_TARGET: State "pass2" is not '
        "reachable. at /States/pass2'"
    )


def test_cli_substitutes_placeholders_and_exits_1_on_an_error(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": LAMBDA,
                "Parameters": {"FunctionName": "${FnArn}", "n.$": "States.StringToJson('${N}')"},
                "End": True,
            }
        },
    }
    assert "function:FnArn" in substitute_placeholders(json.dumps(template))
    ok = tmp_path / "ok.asl.json"
    ok.write_text(json.dumps(template))
    assert main([str(ok)]) == 0
    template["States"]["T"]["Next"] = "Gone"
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps(template))
    assert main([str(ok), str(bad)]) == 1
    assert "ERROR SCHEMA_VALIDATION_FAILED" in capsys.readouterr().out


def test_the_project_state_machines_pass() -> None:
    root = pathlib.Path(__file__).resolve().parents[3]
    files = sorted((root / "statemachine").glob("*.asl.json"))
    assert files
    assert main([str(f) for f in files]) == 0


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the conformance corpus is not beside the clone")
def test_every_conformance_definition_is_accepted() -> None:
    """Each was created on real AWS, so none may have an ERROR."""
    count = 0
    for path in sorted(CORPUS.glob("*.json")):
        for case in json.loads(path.read_text()):
            assert errors_of(case["definition"]) == [], case["name"]
            count += 1
    assert count >= 800
