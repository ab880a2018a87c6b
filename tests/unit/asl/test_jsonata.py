"""JSONata states: Arguments/Output/Assign, $states, Condition, Items and errors."""

from __future__ import annotations

from typing import Any

from local.stepfunctions import LambdaFunctionError

from .conftest import FakeLambdas, Harness, output


def test_output_assign_and_condition(harness: Harness) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Assign": {"total": "{% $sum($states.input.values) %}"},
                "Output": {"n": "{% $count($states.input.values) %}", "lit": "x"},
                "Next": "C",
            },
            "C": {
                "Type": "Choice",
                "Choices": [
                    {"Condition": "{% $total > 5 %}", "Next": "Big", "Output": "{% $total %}"}
                ],
                "Default": "Small",
            },
            "Big": {"Type": "Succeed"},
            "Small": {"Type": "Fail", "Error": "{% 'Small' & $string($total) %}"},
        },
    }
    assert output(harness.run(definition, {"values": [1, 2, 3]})) == 6
    assert harness.run(definition, {"values": [1]})["error"] == "Small1"


def test_undefined_is_a_query_evaluation_error(harness: Harness) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Output": {"r": "{% $nope %}"}, "End": True}},
    }
    desc = harness.run(definition)
    assert desc["error"] == "States.QueryEvaluationError"
    assert desc["cause"].endswith(
        "The JSONata expression '$nope' specified for the field 'Output/r' returned nothing "
        "(undefined)."
    )


def test_task_arguments_result_and_catch(harness: Harness, lambdas: FakeLambdas) -> None:
    lambdas.add("Inc", lambda p: p + 1)

    def bad(p: Any) -> Any:
        raise LambdaFunctionError("Bad", "no", [])

    lambdas.add("Bad", bad)
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "Inc", "Payload": "{% $states.input.n %}"},
                "Output": "{% $states.result.Payload %}",
                "Next": "U",
            },
            "U": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "Bad", "Payload": {}},
                "Catch": [
                    {
                        "ErrorEquals": ["Bad"],
                        "Output": {
                            "was": "{% $states.input %}",
                            "e": "{% $states.errorOutput.Error %}",
                        },
                        "Next": "Done",
                    }
                ],
                "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }
    assert output(harness.run(definition, {"n": 1})) == {"was": 2, "e": "Bad"}


def test_map_items_and_item_selector(harness: Harness) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "M",
        "States": {
            "M": {
                "Type": "Map",
                "Items": "{% $states.input.xs %}",
                "ItemSelector": {"v": "{% $states.context.Map.Item.Value * 10 %}"},
                "ItemProcessor": {
                    "StartAt": "P",
                    "States": {
                        "P": {"Type": "Pass", "Output": "{% $states.input.v %}", "End": True}
                    },
                },
                "End": True,
            }
        },
    }
    assert output(harness.run(definition, {"xs": [1, 2]})) == [10, 20]
    desc = harness.run(definition, {"xs": 3})
    assert desc["error"] == "States.QueryEvaluationError"
    assert "Expected 'array', but was 'number'" in desc["cause"]


def test_step_functions_jsonata_functions(harness: Harness) -> None:
    definition = {
        "QueryLanguage": "JSONata",
        "StartAt": "A",
        "States": {
            "A": {
                "Type": "Pass",
                "Output": {
                    "p": "{% $partition([1,2,3], 2) %}",
                    "r": "{% $range(0, 4, 2) %}",
                    "h": "{% $hash('input data', 'MD5') %}",
                    "j": "{% $parse('{\"a\":1}') %}",
                    "u": "{% $length($uuid()) %}",
                },
                "End": True,
            }
        },
    }
    assert output(harness.run(definition)) == {
        "p": [[1, 2], [3]],
        "r": [0, 2, 4],
        "h": "812f45842bc6d66ee14572ce20db8e86",
        "j": {"a": 1},
        "u": 36,
    }
