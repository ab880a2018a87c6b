"""GET /contacts/{phoneNumber}."""

from __future__ import annotations

import json
from typing import Any

import pytest

from optin.handlers import contact_status, create_contact, send_confirmation

NUMBER = "+12065550100"


@pytest.fixture
def get(load_event, lambda_context):
    def call(path_number: str) -> tuple[int, dict[str, Any]]:
        event = load_event("apigw_get_contact.json")
        event["path"] = f"/contacts/{path_number}"
        event["pathParameters"] = {"phoneNumber": path_number}
        response = contact_status.handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"])

    return call


@pytest.fixture
def registered(world, lambda_context):
    create_contact.handler(
        {
            "registrationId": "reg-1",
            "phoneNumber": NUMBER,
            "firstName": "Ana",
            "evidence": {"ip": "203.0.113.7"},
            "validation": {},
            "executionArn": "arn:exec",
        },
        lambda_context,
    )
    send_confirmation.handler(
        {"taskToken": "secret-token", "registrationId": "reg-1", "phoneNumber": NUMBER},
        lambda_context,
    )
    return world


def test_fixture_event(registered, load_event, lambda_context) -> None:
    response = contact_status.handler(load_event("apigw_get_contact.json"), lambda_context)
    assert response["statusCode"] == 200
    answer = json.loads(response["body"])
    assert answer["phoneNumber"] == NUMBER
    assert answer["status"] == "PENDING" and answer["optedIn"] is False
    assert answer["registrationId"] == "reg-1" and answer["sendCount"] == 1
    assert answer["updatedAt"].endswith("Z")
    assert [e["type"] for e in answer["events"]] == ["requested", "confirmation_sent"]
    assert answer["events"][0]["details"]["evidence"]["ip"] == "203.0.113.7"
    assert "secret-token" not in response["body"]  # never expose the task token


@pytest.mark.parametrize(
    "path_number", ["%2B12065550100", "+12065550100", "%2B1%20206%20555%200100"]
)
def test_number_forms(registered, get, path_number) -> None:
    status, answer = get(path_number)
    assert status == 200 and answer["phoneNumber"] == NUMBER


def test_unknown_number_is_404(world, get) -> None:
    status, answer = get("%2B14255550123")
    assert status == 404 and answer["error"]["code"] == "not_found"


@pytest.mark.parametrize("path_number", ["abc", "%2B1555", "1234567890123456789012345"])
def test_invalid_number_is_400(world, get, path_number) -> None:
    status, answer = get(path_number)
    assert status == 400 and answer["error"]["code"] == "invalid_phone_number"
