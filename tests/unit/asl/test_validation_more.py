"""The validator's further checks (Task resources, JSONata `$states` placement, Map
configuration): each refusal beside the definition AWS accepts that differs from it by one
value, so a check that refuses too much fails here as surely as one that refuses too little."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.stepfunctions.validation import ERROR, validate

S = "SCHEMA_VALIDATION_FAILED"


def errors_of(definition: dict[str, Any], machine_type: str = "STANDARD") -> list[tuple[str, ...]]:
    _, found = validate(json.dumps(definition), machine_type)
    return [(d.code, d.message, d.location or "") for d in found if d.severity == ERROR]


def task(resource: str, **extra: Any) -> dict[str, Any]:
    return {
        "StartAt": "T",
        "States": {"T": {"Type": "Task", "Resource": resource, "End": True, **extra}},
    }


# Task resources -----------------------------------------------------------------------------

ACCEPTED_RESOURCES = [
    "arn:aws:lambda:us-east-1:123456789012:function:Fn",
    "arn:aws:lambda:eu-west-1:123456789012:function:Fn:7",
    "arn:aws:lambda:us-east-1:123456789012:function:Fn:live",
    "arn:aws:lambda:us-east-1:123456789012:function:Fn:$LATEST",
    "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:Fn",
    "arn:aws-cn:lambda:cn-north-1:123456789012:function:Fn",
    "arn:aws:states:us-east-1:123456789012:activity:Approve",
    "arn:aws:states:::lambda:invoke",
    "arn:aws:states:::lambda:invoke.waitForTaskToken",
    "arn:aws:states:::states:startExecution",
    "arn:aws:states:::states:startExecution.sync",
    "arn:aws:states:::states:startExecution.sync:2",
    "arn:aws:states:::states:startExecution.waitForTaskToken",
    "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "arn:aws:states:::sns:publish",
    "arn:aws:states:::dynamodb:putItem",
    "arn:aws:states:::ecs:runTask.sync",
    "arn:aws:states:::glue:startJobRun.sync",
    "arn:aws:states:::batch:submitJob.sync",
    "arn:aws:states:::events:putEvents.waitForTaskToken",
    "arn:aws:states:::apigateway:invoke",
    "arn:aws:states:::emr-serverless:startJobRun.sync",
    "arn:aws:states:::bedrock:invokeModel",
    "arn:aws:states:::http:invoke",
    "arn:aws:states:::aws-sdk:s3:getObject",
    "arn:aws:states:::aws-sdk:dynamodb:getItem",
    "arn:aws:states:::aws-sdk:sfn:startExecution.waitForTaskToken",
    "arn:aws:states:::aws-sdk:cloudwatchlogs:putLogEvents",
]


@pytest.mark.parametrize("resource", ACCEPTED_RESOURCES)
def test_every_real_resource_form_is_accepted(resource: str) -> None:
    assert errors_of(task(resource)) == []


@pytest.mark.parametrize(
    "resource",
    [
        "${FnArn}",  # a DefinitionSubstitutions placeholder nobody replaced
        "MyFunction",
        "arn:aws:lambda",
        "",
    ],
)
def test_a_value_that_is_no_arn_is_a_schema_error(resource: str) -> None:
    assert errors_of(task(resource)) == [
        (S, "Value is not a valid resource ARN", "/States/T/Resource")
    ]


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:states:::lambda:invoke.sync",  # Lambda has no Run a Job pattern
        "arn:aws:states:::dynamodb:putItem.waitForTaskToken",  # DynamoDB: request/response only
        "arn:aws:states:::glue:startJobRun.waitForTaskToken",
        "arn:aws:states:::lambda:invoke.sync:2",  # .sync:2 is Step Functions' own
        "arn:aws:states:::dynamodb:query",  # recorded on AWS: not an optimized DynamoDB action
        "arn:aws:states:::sns:sendMessage",
        "arn:aws:states:::aws-sdk:s3:getObject.sync",  # SDK integrations never .sync
        "arn:aws:states:::aws-sdk:s3:GetObject",  # SDK actions are camelCase
        "arn:aws:states:::nosuchservice:doIt",
        "arn:aws:states:::lambda:invoke.waitForTaskTokens",
        "arn:aws:states:us-east-1:123456789012:stateMachine:Other",
        "arn:aws:lambda:us-east-1:123456789012:layer:L",
        "arn:aws:lambda:us-east-1:12345:function:Fn",  # an account id has 12 digits
        "arn:aws:sqs:us-east-1:123456789012:queue",
    ],
)
def test_an_arn_that_names_no_task_resource_is_not_recognized(resource: str) -> None:
    assert errors_of(task(resource)) == [
        (
            S,
            f"The resource provided {resource} is not recognized. The value is not a valid "
            "resource ARN, or the resource is not available in this region.",
            "/States/T/Resource",
        )
    ]


def test_a_nested_task_resource_is_checked_at_its_own_location() -> None:
    inner = task("arn:aws:states:::nosuchservice:doIt")
    doc = {
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": [inner], "End": True}},
    }
    [(code, _, location)] = errors_of(doc)
    assert (code, location) == (S, "/States/P/Branches[0]/States/T/Resource")
    inner["States"]["T"]["Resource"] = "arn:aws:states:::lambda:invoke"
    assert errors_of(doc) == []


# JSONata: what an expression may read where it stands --------------------------------------

U = "UNSUPPORTED_JSONATA_EXPRESSION"
LAMBDA = "arn:aws:states:::lambda:invoke"


def jsonata_task(**fields: Any) -> dict[str, Any]:
    """A JSONata Task with a catcher, each field set from `fields` ("Catch" sets the catcher)."""
    catcher = {"ErrorEquals": ["States.ALL"], "Next": "Done", **fields.pop("Catch", {})}
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "T",
        "States": {
            "T": {"Type": "Task", "Resource": LAMBDA, "Catch": [catcher], "Next": "Done", **fields},
            "Done": {"Type": "Succeed"},
        },
    }


def test_states_result_and_error_output_where_the_language_offers_them() -> None:
    doc = jsonata_task(
        Arguments={"FunctionName": "f", "Payload": "{% $states.input %}"},
        Output={"r": "{% $states.result.Payload %}"},
        Assign={"n": "{% $count($states.result.Payload.items) %}"},
        Catch={
            "Output": "{% $states.errorOutput %}",
            "Assign": {"e": "{% $states.errorOutput.Error %}"},
        },
    )
    assert errors_of(doc) == []


@pytest.mark.parametrize(
    ("fields", "field", "location"),
    [
        (
            {"Arguments": {"FunctionName": "f", "Payload": "{% $states.result %}"}},
            "result",
            "/States/T/Arguments/Payload",
        ),
        ({"Catch": {"Output": "{% $states.result %}"}}, "result", "/States/T/Catch[0]/Output"),
        ({"TimeoutSeconds": "{% $states.result.t %}"}, "result", "/States/T/TimeoutSeconds"),
        (
            {"Arguments": {"FunctionName": "f", "Payload": "{% $states.errorOutput %}"}},
            "errorOutput",
            "/States/T/Arguments/Payload",
        ),
        ({"Output": {"e": "{% $states.errorOutput %}"}}, "errorOutput", "/States/T/Output/e"),
        (
            {"Assign": {"e": "{% [$states.errorOutput.Cause][0] %}"}},
            "errorOutput",
            "/States/T/Assign/e",
        ),
    ],
)
def test_states_fields_read_out_of_place_are_refused(
    fields: dict[str, Any], field: str, location: str
) -> None:
    assert errors_of(jsonata_task(**fields)) == [
        (U, f"Field '$states.{field}' does not exist.", location)
    ]


def test_error_output_is_refused_in_a_choice_but_result_is_left_unjudged() -> None:
    doc = {
        "QueryLanguage": "JSONata",
        "StartAt": "C",
        "States": {
            "C": {
                "Type": "Choice",
                "Choices": [{"Condition": "{% $states.input.ok %}", "Next": "Done"}],
                "Default": "Done",
                "Output": "{% $states.result %}",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    assert errors_of(doc) == []
    doc["States"]["C"]["Choices"][0]["Condition"] = "{% $states.errorOutput.x %}"
    assert errors_of(doc) == [
        (U, "Field '$states.errorOutput' does not exist.", "/States/C/Choices[0]/Condition")
    ]


def pass_output(expression: str) -> dict[str, Any]:
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "E",
        "States": {"E": {"Type": "Pass", "Output": {"v": expression}, "End": True}},
    }


def test_a_field_name_at_the_top_level_is_refused_as_aws_words_it() -> None:
    assert errors_of(pass_output("{% phone %}")) == [
        (U, "Reference to 'phone' at the top level is not supported.", "/States/E/Output/v")
    ]
    assert errors_of(pass_output("{% phone.number %}"))[0][1] == (
        "Reference to 'phone' at the top level is not supported."
    )
    # nested in an expression, a field name reads the step's context: allowed
    assert errors_of(pass_output("{% $states.input.items[price > 5].name %}")) == []
    assert errors_of(pass_output("{% $states.input.phone %}")) == []


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ('phone & "x"', "phone"),
        ("$states.input.a + b", "b"),
        ("$count(items)", "items"),
        ("$states.input.ok ? yes : 0", "yes"),
        ("[$states.input.a, other]", "other"),
        ('{"k": value}', "value"),
        ("($x := field; $x)", "field"),
        ("-n", "n"),
        ("$states.input ~> $join(sep)", "sep"),
    ],
)
def test_a_field_name_read_at_the_top_level_anywhere_in_the_expression(
    expression: str, name: str
) -> None:
    assert errors_of(pass_output("{% " + expression + " %}")) == [
        (U, f"Reference to '{name}' at the top level is not supported.", "/States/E/Output/v")
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "$states.input.items[price > 5].name",
        "$states.input.items^(price).name",
        '$states.input.a.{"k": b}',
        "$map($states.input.items, function($v) { $v.name })",
        "$states.input.items.(qty * price)",
        '$sum($states.input.items.price) & " total"',
        "$states.context.Execution.Id",
    ],
)
def test_a_field_name_in_a_steps_context_is_allowed(expression: str) -> None:
    assert errors_of(pass_output("{% " + expression + " %}")) == []


def test_double_dollar_is_refused_and_a_padded_string_is_a_literal() -> None:
    assert errors_of(pass_output("{% $$.a %}")) == [
        (U, "Reference to '$$' is not supported.", "/States/E/Output/v")
    ]
    # spaces outside the delimiters make a literal string, as AWS reads it
    assert errors_of(pass_output(" {% $$ %} ")) == []


def test_an_expression_that_does_not_parse_has_the_parsers_message() -> None:
    assert errors_of(pass_output("{% 1 + %}")) == [
        ("INVALID_JSONATA_EXPRESSION", "Unexpected end of expression", "/States/E/Output/v")
    ]


def test_a_variable_no_state_assigns_is_accepted_as_aws_accepts_it() -> None:
    """AWS creates the machine and fails the execution (assign.json, BASE_UNDEFINED_OUTPUT)."""
    assert errors_of(pass_output("{% $doesNotExist %}")) == []
    jsonpath = {
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Parameters": {"v.$": "$doesNotExist"}, "End": True}},
    }
    assert errors_of(jsonpath) == []


# Map configuration ---------------------------------------------------------------------------


def a_map(**fields: Any) -> dict[str, Any]:
    """A Map state; `ProcessorConfig` goes into its ItemProcessor, the rest onto the state."""
    processor: dict[str, Any] = {"StartAt": "M", "States": {"M": {"Type": "Pass", "End": True}}}
    if "ProcessorConfig" in fields:
        processor["ProcessorConfig"] = fields.pop("ProcessorConfig")
    return {
        "StartAt": "Each",
        "States": {"Each": {"Type": "Map", "ItemProcessor": processor, "End": True, **fields}},
    }


DISTRIBUTED = {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}


def test_a_full_distributed_map_is_accepted() -> None:
    doc = a_map(
        ProcessorConfig=DISTRIBUTED,
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket": "b", "Key": "k.csv"},
        },
        ItemBatcher={"MaxItemsPerBatch": 10, "MaxInputBytesPerBatch": 1024, "BatchInput": {}},
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}},
        ToleratedFailurePercentage=5,
        Label="Run-1_a.b",
    )
    assert errors_of(doc) == []
    assert errors_of(a_map(ProcessorConfig={"Mode": "INLINE"})) == []
    assert errors_of(a_map(ProcessorConfig={})) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"ProcessorConfig": {"Mode": "DISTRIBUTED"}},
            (
                S,
                "These fields are required: [ExecutionType]",
                "/States/Each/ItemProcessor/ProcessorConfig",
            ),
        ),
        (
            {"ProcessorConfig": {"Mode": "PARALLEL"}},
            (
                S,
                "The field 'Mode' should have one of these values: [INLINE, DISTRIBUTED]",
                "/States/Each/ItemProcessor/ProcessorConfig/Mode",
            ),
        ),
        (
            {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "SYNC"}},
            (
                S,
                "The field 'ExecutionType' should have one of these values: [STANDARD, EXPRESS]",
                "/States/Each/ItemProcessor/ProcessorConfig/ExecutionType",
            ),
        ),
        (
            {"ProcessorConfig": {**DISTRIBUTED, "Concurrency": 3}},
            (
                S,
                "Field 'Concurrency' is not supported",
                "/States/Each/ItemProcessor/ProcessorConfig",
            ),
        ),
        (
            {"ProcessorConfig": DISTRIBUTED, "ItemReader": {"ReaderConfig": {}}},
            (S, "These fields are required: [Resource]", "/States/Each/ItemReader"),
        ),
        (
            {
                "ProcessorConfig": DISTRIBUTED,
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "Bucket": "b"},
            },
            (S, "Field 'Bucket' is not supported", "/States/Each/ItemReader"),
        ),
        (
            {"ProcessorConfig": DISTRIBUTED, "ItemBatcher": {"MaxItems": 3}},
            (S, "Field 'MaxItems' is not supported", "/States/Each/ItemBatcher"),
        ),
        (
            {
                "ProcessorConfig": DISTRIBUTED,
                "ItemBatcher": {"MaxItemsPerBatch": 3, "MaxItemsPerBatchPath": "$.n"},
            },
            (
                S,
                "There should only be one of the following fields: "
                "[MaxItemsPerBatch, MaxItemsPerBatchPath]",
                "/States/Each/ItemBatcher",
            ),
        ),
        (
            {
                "ProcessorConfig": DISTRIBUTED,
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Prefix": "p"},
            },
            (S, "Field 'Prefix' is not supported", "/States/Each/ResultWriter"),
        ),
        (
            {"ProcessorConfig": DISTRIBUTED, "Label": "a" * 41},
            ("INVALID_LABEL_NAME", "Label must be 1 to 40 characters", "/States/Each/Label"),
        ),
        (
            {"ProcessorConfig": DISTRIBUTED, "Label": "my run"},
            (
                "INVALID_LABEL_NAME",
                "Label must not contain whitespace, brackets, wildcards, special characters "
                "or control characters",
                "/States/Each/Label",
            ),
        ),
    ],
)
def test_each_map_configuration_fault(fields: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert errors_of(a_map(**fields)) == [expected]


def test_a_label_is_unique_across_the_definition() -> None:
    doc = a_map(ProcessorConfig=DISTRIBUTED, Label="Run")
    inner = a_map(ProcessorConfig=DISTRIBUTED, Label="Run")["States"]["Each"]
    inner["End"] = True
    doc["States"]["Each"]["ItemProcessor"]["States"] = {"Inner": inner}
    doc["States"]["Each"]["ItemProcessor"]["StartAt"] = "Inner"
    assert errors_of(doc) == [
        (
            "DUPLICATE_LABEL_NAME",
            "Duplicate Label name: 'Run'",
            "/States/Each/ItemProcessor/States/Inner/Label",
        )
    ]
    inner["Label"] = "Other"
    assert errors_of(doc) == []


def test_a_parallel_branch_takes_no_processor_config() -> None:
    branch = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    doc = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [branch], "End": True}}}
    assert errors_of(doc) == []
    branch["ProcessorConfig"] = {"Mode": "INLINE"}
    assert errors_of(doc) == [
        (S, "Field 'ProcessorConfig' is not supported", "/States/P/Branches[0]")
    ]


def test_services_with_open_action_lists_take_any_action() -> None:
    for resource in (
        "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "arn:aws:states:::eks:runJob.sync",
        "arn:aws:states:::elasticmapreduce:addStep.sync",
        "arn:aws:states:::codebuild:startBuild.sync",
        "arn:aws:states:::athena:startQueryExecution.sync",
        "arn:aws:states:::mediaconvert:createJob.sync",
        "arn:aws:states:::batch:submitJob.waitForTaskToken",
    ):
        assert errors_of(task(resource)) == [], resource


# the characters AWS refused in a Label (localstack's tests recorded on AWS), one by one
LABEL_REFUSED = list(' ?*<>{}[]:;,\\|^~$#%&`"') + [
    chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))
]


@pytest.mark.parametrize("char", LABEL_REFUSED, ids=[hex(ord(c)) for c in LABEL_REFUSED])
def test_each_character_aws_refuses_in_a_label(char: str) -> None:
    [(code, _, location)] = errors_of(a_map(ProcessorConfig=DISTRIBUTED, Label=f"label_{char}"))
    assert (code, location) == ("INVALID_LABEL_NAME", "/States/Each/Label")


def test_an_empty_label_is_refused() -> None:
    assert errors_of(a_map(ProcessorConfig=DISTRIBUTED, Label="")) == [
        ("INVALID_LABEL_NAME", "Label must be 1 to 40 characters", "/States/Each/Label")
    ]
    assert errors_of(a_map(ProcessorConfig=DISTRIBUTED, Label="a" * 40)) == []


# Intrinsic string escapes and Task Credentials (both refused on AWS in localstack's recordings)


def pass_parameters(value: str) -> dict[str, Any]:
    return {
        "StartAt": "I",
        "States": {"I": {"Type": "Pass", "Parameters": {"parsed.$": value}, "End": True}},
    }


@pytest.mark.parametrize(
    "call",
    [
        """States.StringToJson('{"text":"An \\"escaped double quote\\" here"}')""",
        """States.Format('He said, \\"Hello, {}!\\"', 'Test \\"Name\\" Here')""",
        "States.Format('tab\\there')",
    ],
)
def test_an_escape_aws_does_not_know_in_an_intrinsic_string(call: str) -> None:
    assert errors_of(pass_parameters(call)) == [
        (
            S,
            "The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/I/Parameters",
        )
    ]


def test_the_escapes_an_intrinsic_string_may_hold() -> None:
    call = "States.Format('it\\'s \\{literal\\} and a backslash \\\\ {}', $.x)"
    assert errors_of(pass_parameters(call)) == []


@pytest.mark.parametrize("credentials", [{}, {"InvalidField": "invalid"}, "arn"])
def test_credentials_need_a_role_arn(credentials: Any) -> None:
    assert errors_of(task(LAMBDA, Credentials=credentials)) == [
        (S, "The field 'RoleArn' is required but was missing", "/States/T/Credentials")
    ]


def test_credentials_with_a_role_arn_or_its_path() -> None:
    role = "arn:aws:iam::123456789012:role/r"
    assert errors_of(task(LAMBDA, Credentials={"RoleArn": role})) == []
    assert errors_of(task(LAMBDA, Credentials={"RoleArn.$": "$.role"})) == []


def test_an_unknown_jsonata_function_is_left_to_the_run_as_aws_leaves_it() -> None:
    """AWS created a machine calling `$randomSeeded` and failed the execution with T1006
    (localstack's test_math_operations_jsonata, recorded on AWS)."""
    assert errors_of(pass_output("{% $randomSeeded($states.input.n) %}")) == []


READER = "arn:aws:states:::s3:getObject"


def test_map_objects_take_their_query_languages_fields() -> None:
    jsonata = {"QueryLanguage": "JSONata", **a_map(ProcessorConfig=DISTRIBUTED)}
    each = jsonata["States"]["Each"]
    each["ItemReader"] = {"Resource": READER, "Arguments": {"Bucket": "{% $states.input.b %}"}}
    assert errors_of(jsonata) == []
    each["ItemReader"] = {"Resource": READER, "Parameters": {"Bucket": "b"}}
    assert errors_of(jsonata) == [
        (
            S,
            "The QueryLanguage is set to 'JSONata', but field 'Parameters' is only supported "
            "for the 'JSONPath' QueryLanguage",
            "/States/Each/ItemReader",
        )
    ]
    jsonpath = a_map(
        ProcessorConfig=DISTRIBUTED, ResultWriter={"Resource": READER, "Arguments": {}}
    )
    assert errors_of(jsonpath) == [
        (
            S,
            "The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only supported "
            "for the 'JSONata' QueryLanguage",
            "/States/Each/ResultWriter",
        )
    ]


def test_paths_inside_a_jsonpath_maps_objects() -> None:
    good = a_map(
        ProcessorConfig=DISTRIBUTED,
        ItemReader={"Resource": READER, "Parameters": {"Bucket.$": "$.bucket", "Key": "k"}},
        ItemBatcher={"MaxItemsPerBatchPath": "$.size", "BatchInput": {"run.$": "$$.Execution.Id"}},
    )
    assert errors_of(good) == []
    bad = a_map(
        ProcessorConfig=DISTRIBUTED,
        ItemReader={"Resource": READER, "Parameters": {"Bucket.$": "bucket"}},
        ItemBatcher={"MaxItemsPerBatchPath": "$.sizes[*]", "BatchInput": {"n.$": "States.Nope()"}},
    )
    assert errors_of(bad) == [
        (
            S,
            "The value for the field 'Bucket.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/Each/ItemReader/Parameters",
        ),
        (
            S,
            "The value for the field 'n.$' must be a valid JSONPath or a valid intrinsic "
            "function call",
            "/States/Each/ItemBatcher/BatchInput",
        ),
        (
            S,
            "The value for the field 'MaxItemsPerBatchPath' must be a valid ReferencePath",
            "/States/Each/ItemBatcher",
        ),
    ]
