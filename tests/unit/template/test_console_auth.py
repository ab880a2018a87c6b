"""The console's sign-in as the template declares it for AWS: every API route but the public
form's and the sign-in is behind the authorizer, the user pool and its client are strict, and
CloudFront sends /console/api/* to the API uncached with the cookie and the viewer's host."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from optin.domain.session import VIEWER_HOST_HEADER, TokenRejected
from tests.unit.template import iam_check

OPEN_ROUTES = {
    ("/signups", "post"),
    ("/signups/{registrationId}", "get"),
    ("/signups/challenge", "get"),  # the form's CAPTCHA challenge
    ("/disclosure", "get"),
    ("/console/api/session", "post"),
    ("/console/api/session", "delete"),
}
# The partner API: no console sign-in, an API key instead (usage plan, then the function).
KEY_ROUTES = {
    ("/v1/signups", "post"),
    ("/v1/signups", "get"),
    ("/v1/signups/{registrationId}", "get"),
    ("/v1/signups/{registrationId}", "delete"),
    ("/v1/webhook", "put"),
    ("/v1/webhook", "get"),
    ("/v1/webhook", "delete"),
    ("/v1/webhook/test", "post"),
    ("/v1/webhook/deliveries", "get"),
    ("/v1/webhook/deliveries/{deliveryId}", "get"),
    ("/v1/webhook/deliveries/{deliveryId}/replay", "post"),
}
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return iam_check.load_sam()


def _operations(sam: dict[str, Any], security: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(path, method) of the deployed API's operations whose security is not `security`."""
    body = iam_check.transform(sam)["Resources"]["ServerlessRestApi"]["Properties"]["Body"]
    return {
        (path, method)
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        if method != "options" and operation.get("security") != security
    }


def unguarded(sam: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, method) of the operations neither the authorizer nor an API key guards."""
    return _operations(sam, [{"ConsoleAuthorizer": []}]) & _operations(sam, [{"api_key": []}])


# The API's OpenAPI document is behind the key like every other /v1 route.
KEY_ROUTES = KEY_ROUTES | {("/v1/openapi.json", "get")}


def test_the_partner_routes_and_only_they_require_an_api_key(sam: dict[str, Any]) -> None:
    everything = _operations(sam, [{"no such": []}])
    assert everything - _operations(sam, [{"api_key": []}]) == KEY_ROUTES


def test_each_partner_key_has_a_quota_and_a_throttle(sam: dict[str, Any]) -> None:
    resources = iam_check.transform(sam)["Resources"]
    plan = resources["ServerlessRestApiUsagePlan"]["Properties"]
    assert plan["ApiStages"][0]["ApiId"] == {"Ref": "ServerlessRestApi"}
    assert plan["Quota"]["Period"] == "DAY" and plan["Quota"]["Limit"] > 0
    assert plan["Throttle"]["RateLimit"] > 0 and plan["Throttle"]["BurstLimit"] > 0


def test_only_the_public_form_and_the_sign_in_are_open(sam: dict[str, Any]) -> None:
    assert unguarded(sam) == OPEN_ROUTES


def test_a_new_route_is_closed_unless_it_says_otherwise(sam: dict[str, Any]) -> None:
    changed = copy.deepcopy(sam)
    events = changed["Resources"]["ContactStatusFunction"]["Properties"].setdefault("Events", {})
    events["Probe"] = {"Type": "Api", "Properties": {"Path": "/console/api/probe", "Method": "get"}}
    assert ("/console/api/probe", "get") not in unguarded(changed)
    events["Probe"]["Properties"]["Auth"] = {"Authorizer": "NONE"}
    assert ("/console/api/probe", "get") in unguarded(changed)


def test_refusals_speak_the_apis_error_shape(sam: dict[str, Any]) -> None:
    responses = sam["Globals"]["Api"]["GatewayResponses"]
    unauthorized = responses["UNAUTHORIZED"]["ResponseTemplates"]["application/json"]
    assert f'"code": "{TokenRejected.code}"' in unauthorized
    denied = responses["ACCESS_DENIED"]["ResponseTemplates"]["application/json"]
    assert "$context.authorizer.errorCode" in denied
    auth = sam["Globals"]["Api"]["Auth"]
    assert auth["AddDefaultAuthorizerToCorsPreflight"] is False
    identity = auth["Authorizers"]["ConsoleAuthorizer"]["Identity"]
    assert identity["Headers"] == ["Cookie"] and 0 < identity["ReauthorizeEvery"] <= 300


def test_the_user_pool_and_its_client_are_strict(sam: dict[str, Any]) -> None:
    resources = sam["Resources"]
    pool = resources["ConsoleUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[k]
        for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    client = resources["ConsoleUserPoolClient"]["Properties"]
    assert client["GenerateSecret"] is False
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert client["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert client["AccessTokenValidity"] <= 60
    groups = {
        r["Properties"]["GroupName"]
        for r in resources.values()
        if r["Type"] == "AWS::Cognito::UserPoolGroup"
    }
    assert groups == {"viewer", "agent"}


def test_cloudfront_sends_the_console_api_uncached_with_cookie_and_viewer_host(
    sam: dict[str, Any],
) -> None:
    config = sam["Resources"]["WebDistribution"]["Properties"]["DistributionConfig"]
    (behaviour,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == "/console/api/*"]
    assert behaviour["TargetOriginId"] == "api"
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST  # cookies too
    assert {"POST", "DELETE"} <= set(behaviour["AllowedMethods"])
    (association,) = behaviour["FunctionAssociations"]
    assert association == {
        "EventType": "viewer-request",
        "FunctionARN": {"Fn::GetAtt": ["ConsoleViewerHost", "FunctionARN"]},
    }
    code = sam["Resources"]["ConsoleViewerHost"]["Properties"]["FunctionCode"]
    assert (
        f'request.headers["{VIEWER_HOST_HEADER}"] = {{ value: request.headers.host.value }}' in code
    )
