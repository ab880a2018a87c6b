"""The console's session function and authorizer, with the in-memory identity provider:
no cookie, bad, expired and signed-out tokens, viewer, agent, no group, wrong Origin, wrong
content type, bad bodies (each a 4xx with a code and a sentence, never a 500)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from optin import identity_wiring
from optin.domain.session import COOKIE_NAME, session_cookie, token_from_cookies
from optin.handlers import console_authorizer, console_session
from tests.fakes.identity import MemoryIdentity

ORIGIN = "https://d111.cloudfront.net"
PASSWORD = "Correct-Horse-7-battery"
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/GET/console/api/session"


@pytest.fixture
def identity() -> Iterator[MemoryIdentity]:
    fake = MemoryIdentity()
    fake.add("ada", PASSWORD, "agent")
    fake.add("vic", PASSWORD, "viewer")
    fake.add("both", PASSWORD, "viewer", "agent")
    fake.add("loner", PASSWORD)
    with identity_wiring.override(fake):
        yield fake


def browser_headers(**extra: str) -> dict[str, str]:
    """What a browser sends from the console's page through CloudFront and API Gateway."""
    return {
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "X-Viewer-Host": "d111.cloudfront.net",
        "X-Forwarded-Proto": "https",
        "Origin": ORIGIN,
        "Content-Type": "application/json",
        **extra,
    }


def event(method: str, headers: dict[str, str], body: Any = None, **context: str) -> dict[str, Any]:
    return {
        "resource": "/console/api/session",
        "path": "/console/api/session",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {
            "resourcePath": "/console/api/session",
            "httpMethod": method,
            "stage": "Prod",
            **({"authorizer": context} if context else {}),
        },
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(
    lambda_context: Any, method: str, headers: dict[str, str], body: Any = None, **context: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = console_session.handler(event(method, headers, body, **context), lambda_context)
    headers_out = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers_out.update(response.get("headers") or {})
    return response["statusCode"], json.loads(response["body"]), headers_out


def sign_in(
    lambda_context: Any, username: str = "ada", password: str = PASSWORD, **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    return call(
        lambda_context,
        "POST",
        browser_headers(**headers),
        {"username": username, "password": password},
    )


def cookie_of(headers: dict[str, str]) -> str:
    token = token_from_cookies(headers["Set-Cookie"].split(";")[0])
    assert token is not None
    return token


# --- POST: sign in ---


@pytest.mark.parametrize(
    ("username", "role"), [("ada", "agent"), ("vic", "viewer"), ("both", "agent")]
)
def test_sign_in_sets_the_cookie_and_answers_the_role(
    identity: MemoryIdentity, lambda_context: Any, username: str, role: str
) -> None:
    status, body, headers = sign_in(lambda_context, username)
    assert (status, body) == (200, {"username": username, "role": role})
    flags = [part.strip() for part in headers["Set-Cookie"].split(";")]
    token = cookie_of(headers)
    assert flags[0] == f"{COOKIE_NAME}={token}"
    assert set(flags[1:]) == {
        "Path=/console/api", "Max-Age=3600", "HttpOnly", "SameSite=Strict", "Secure",
    }  # fmt: skip
    assert identity.user_of(token) == username
    assert headers["Cache-Control"] == "no-store"


def test_no_secure_flag_over_plain_http(identity: MemoryIdentity, lambda_context: Any) -> None:
    headers = {
        "Host": "127.0.0.1:8000",
        "Origin": "http://127.0.0.1:8000",
        "Content-Type": "application/json",
    }
    status, _, out = call(
        lambda_context, "POST", headers, {"username": "ada", "password": PASSWORD}
    )
    assert status == 200
    assert "Secure" not in out["Set-Cookie"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("ada", "wrong"), ("nobody", PASSWORD), ("ada", ""), ("a" * 129, PASSWORD)],
)
def test_wrong_credentials_are_one_answer_that_names_neither_part(
    identity: MemoryIdentity, lambda_context: Any, username: str, password: str
) -> None:
    status, body, headers = sign_in(lambda_context, username, password)
    assert status == 401
    assert body == {
        "error": {"code": "invalid_credentials", "message": "Wrong username or password."}
    }
    assert "Set-Cookie" not in headers


def test_a_user_in_no_group_is_refused_and_keeps_no_token(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    status, body, headers = sign_in(lambda_context, "loner")
    assert status == 403 and body["error"]["code"] == "no_role"
    assert "Set-Cookie" not in headers
    issued = [t for t, (user, _) in identity.tokens.items() if user == "loner"]
    assert issued and set(issued) <= identity.revoked


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://d111.cloudfront.net"},  # the right host over plain HTTP
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
    ],
    ids=["other-origin", "null-origin", "http-origin", "text-plain", "form"],
)
def test_sign_in_from_another_origin_or_not_as_json_is_refused(
    identity: MemoryIdentity, lambda_context: Any, headers: dict[str, str]
) -> None:
    status, body, out = sign_in(lambda_context, **headers)
    assert status == 403 and body["error"]["code"] == "cross_site_request"
    assert body["error"]["message"]
    assert "Set-Cookie" not in out
    assert identity.tokens == {}


def test_sign_in_without_an_origin_is_refused(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    headers = browser_headers()
    del headers["Origin"]
    status, body, _ = call(
        lambda_context, "POST", headers, {"username": "ada", "password": PASSWORD}
    )
    assert (status, body["error"]["code"]) == (403, "cross_site_request")


def test_the_configured_origin_wins(
    identity: MemoryIdentity, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONSOLE_ORIGIN", "https://console.example.com")
    assert sign_in(lambda_context)[0] == 403
    assert sign_in(lambda_context, Origin="https://console.example.com")[0] == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ("", "invalid_json"),
        ("[1]", "body_not_object"),
        ('{"username": "ada", "password": "a", "password": "b"}', "duplicate_key"),
        ({"username": "ada"}, "missing_credentials"),
        ({"username": 5, "password": PASSWORD}, "missing_credentials"),
        ({"username": "  ", "password": PASSWORD}, "missing_credentials"),
    ],
)
def test_bad_bodies_get_a_400_with_a_code(
    identity: MemoryIdentity, lambda_context: Any, body: Any, code: str
) -> None:
    status, answer, _ = call(lambda_context, "POST", browser_headers(), body)
    assert (status, answer["error"]["code"]) == (400, code)
    assert answer["error"]["message"]


def test_an_identity_service_that_is_down_is_a_503_not_a_500(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    identity.down = True
    status, body, _ = sign_in(lambda_context)
    assert (status, body["error"]["code"]) == (503, "identity_unavailable")


# --- GET: who is signed in (behind the authorizer) ---


def test_get_answers_the_authorizers_context(identity: MemoryIdentity, lambda_context: Any) -> None:
    status, body, _ = call(
        lambda_context, "GET", {}, principalId="vic", username="vic", role="viewer"
    )
    assert (status, body) == (200, {"username": "vic", "role": "viewer"})


def test_get_without_the_authorizers_context_is_401(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    status, body, _ = call(lambda_context, "GET", {})
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, body, _ = call(lambda_context, "GET", {}, username="x", role="admin")
    assert status == 401


# --- DELETE: sign out ---


def test_sign_out_revokes_the_token_and_clears_the_cookie(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    token = cookie_of(sign_in(lambda_context)[2])
    headers = browser_headers(Cookie=f"other=1; {COOKIE_NAME}={token}")
    status, body, out = call(lambda_context, "DELETE", headers)
    assert (status, body) == (200, {"signedOut": True})
    assert out["Set-Cookie"].startswith(f"{COOKIE_NAME}=;") and "Max-Age=0" in out["Set-Cookie"]
    assert token in identity.revoked
    # Again, with the token already gone or no cookie at all: still signed out, no error.
    assert call(lambda_context, "DELETE", headers)[0] == 200
    assert call(lambda_context, "DELETE", browser_headers())[0] == 200


def test_sign_out_from_another_origin_does_nothing(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    token = cookie_of(sign_in(lambda_context)[2])
    headers = browser_headers(Cookie=f"{COOKIE_NAME}={token}", Origin="https://evil.example")
    status, body, out = call(lambda_context, "DELETE", headers)
    assert (status, body["error"]["code"]) == (403, "cross_site_request")
    assert "Set-Cookie" not in out
    assert identity.user_of(token) == "ada"


# --- the authorizer ---


def authorizer_event(method: str = "GET", **headers: str) -> dict[str, Any]:
    arn = METHOD_ARN.replace("/GET/", f"/{method}/")
    return {
        "type": "REQUEST",
        "methodArn": arn,
        "resource": "/console/api/session",
        "path": "/console/api/session",
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": {},
        "requestContext": {"httpMethod": method, "stage": "Prod"},
    }


def authorize(lambda_context: Any, method: str = "GET", **headers: str) -> dict[str, Any]:
    return console_authorizer.handler(authorizer_event(method, **headers), lambda_context)


def test_authorizer_allows_a_signed_in_agent_and_viewer_with_the_contracts_context(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    for username, role in (("ada", "agent"), ("vic", "viewer")):
        token = identity.sign_in(username, PASSWORD).access_token
        answer = authorize(lambda_context, Cookie=f"{COOKIE_NAME}={token}")
        assert answer["principalId"] == username
        assert answer["context"] == {"principalId": username, "username": username, "role": role}
        (statement,) = answer["policyDocument"]["Statement"]
        assert statement == {
            "Action": "execute-api:Invoke",
            "Effect": "Allow",
            "Resource": "arn:aws:execute-api:us-east-1:123456789012:abc123/Prod/*/console/*",
        }


@pytest.mark.parametrize(
    "cookie",
    [None, "", "other=1", f"{COOKIE_NAME}=", f"{COOKIE_NAME}=made-up", f'{COOKIE_NAME}="x'],
    ids=["none", "empty", "other-cookie", "empty-value", "made-up", "malformed"],
)
def test_authorizer_is_unauthorized_without_a_working_token(
    identity: MemoryIdentity, lambda_context: Any, cookie: str | None
) -> None:
    headers = {} if cookie is None else {"Cookie": cookie}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(lambda_context, **headers)


def test_authorizer_refuses_expired_and_signed_out_tokens(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    expired = identity.sign_in("ada", PASSWORD).access_token
    identity.now += 3601
    signed_out = identity.sign_in("vic", PASSWORD).access_token
    identity.sign_out(signed_out)
    for token in (expired, signed_out):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            authorize(lambda_context, Cookie=f"{COOKIE_NAME}={token}")


def test_authorizer_denies_a_user_in_no_group_with_a_code(
    identity: MemoryIdentity, lambda_context: Any
) -> None:
    token = identity.sign_in("loner", PASSWORD).access_token
    answer = authorize(lambda_context, Cookie=f"{COOKIE_NAME}={token}")
    assert answer["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert answer["context"]["errorCode"] == "no_role"


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Content-Type": "text/plain"}, {"Origin": ""}],
)
def test_authorizer_denies_a_state_changing_request_from_elsewhere(
    identity: MemoryIdentity, lambda_context: Any, headers: dict[str, str]
) -> None:
    token = identity.sign_in("ada", PASSWORD).access_token
    sent = browser_headers(Cookie=f"{COOKIE_NAME}={token}", **headers)
    answer = authorize(lambda_context, "POST", **sent)
    (statement,) = answer["policyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Resource"] == METHOD_ARN.replace("/GET/", "/POST/")
    assert answer["context"]["errorCode"] == "cross_site_request"
    # The same request from the console's page as JSON is allowed.
    good = authorize(lambda_context, "POST", **browser_headers(Cookie=f"{COOKIE_NAME}={token}"))
    assert good["policyDocument"]["Statement"][0]["Effect"] == "Allow"


def test_the_cookie_helper_reads_only_its_own_cookie() -> None:
    assert token_from_cookies(f"a=1; {COOKIE_NAME}=tok; b=2") == "tok"
    assert token_from_cookies(f'bad="; {COOKIE_NAME}=tok') == "tok"
    assert token_from_cookies("a=1") is None
    assert session_cookie("t", -5, secure=False).split("; ")[2] == "Max-Age=0"
