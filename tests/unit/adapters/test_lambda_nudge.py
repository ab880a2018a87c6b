"""The dispatcher nudge against botocore's Stubber: one asynchronous Invoke of the named
function, and a failure left to the caller (usecases/webhooks.nudge logs it)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from optin.adapters.lambda_nudge import NUDGE_EVENT, LambdaNudge
from optin.usecases.webhooks import nudge

ARN = "arn:aws:lambda:us-east-1:123456789012:function:WebhookDispatchFunction"


def _stubbed() -> tuple[LambdaNudge, Stubber]:
    client = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return LambdaNudge(ARN, lambda: client), Stubber(client)


def test_the_nudge_is_an_asynchronous_invoke_of_the_dispatcher() -> None:
    nudger, stubber = _stubbed()
    stubber.add_response(
        "invoke",
        {"StatusCode": 202},
        {
            "FunctionName": ARN,
            "InvocationType": "Event",
            "Payload": json.dumps(NUDGE_EVENT).encode(),
        },
    )
    with stubber:
        nudger.nudge()
    stubber.assert_no_pending_responses()


def test_a_failed_nudge_raises_and_the_use_case_only_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    nudger, stubber = _stubbed()
    stubber.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
    with stubber, pytest.raises(ClientError):
        nudger.nudge()
    stubber.add_client_error("invoke", "ServiceException", http_status_code=500)
    with stubber:
        nudge(nudger)  # does not raise
    assert "nudge failed" in caplog.text
