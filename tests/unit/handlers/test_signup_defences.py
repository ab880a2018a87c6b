# ruff: noqa: F811  -- pytest fixtures imported from the modules that define them
"""POST /signups and POST /v1/signups with the pumping defences on (in-memory limiter, the
real ALTCHA adapter): 429 rate_limited with the limit and Retry-After, nothing stored or
texted; the CAPTCHA required, checked and good once; the challenge route."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from altcha import v1

from optin.adapters.altcha_captcha import AltchaCaptcha
from tests.fakes.rate_limiter import MemoryRateLimiter
from tests.unit.handlers.test_partner_api import api  # noqa: F401
from tests.unit.handlers.test_partner_api import body as partner_body
from tests.unit.handlers.test_signup import body, post  # noqa: F401

KEY = "test-hmac-key-" + "x" * 32


@pytest.fixture
def defended(world: Any, make_settings: Any) -> MemoryRateLimiter:
    limiter = MemoryRateLimiter()
    world.deps.settings = make_settings(
        rate_limit_per_ip="3,10", rate_limit_per_number="2,4", captcha_required=True
    )
    world.deps.limiter = limiter
    world.deps.captcha = AltchaCaptcha(KEY, max_number=1000)
    return limiter


def challenge(load_event: Any, lambda_context: Any) -> tuple[int, dict[str, Any]]:
    from optin.handlers import signup

    event = load_event("apigw_post_signup.json")
    event.update(httpMethod="GET", path="/signups/challenge", resource="/signups/challenge")
    event["body"] = None
    event["requestContext"].update(httpMethod="GET", path="/Prod/signups/challenge")
    answer = signup.handler(event, lambda_context)
    return answer["statusCode"], json.loads(answer["body"])


def solved(load_event: Any, lambda_context: Any) -> str:
    status, made = challenge(load_event, lambda_context)
    assert status == 200
    found = v1.solve_challenge(made["challenge"], made["salt"], "SHA-256", made["maxNumber"])
    assert found is not None
    payload = {key: made[key] for key in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = found.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


def test_the_challenge_route_says_off_when_no_captcha_is_asked(
    world: Any, load_event: Any, lambda_context: Any
) -> None:
    assert challenge(load_event, lambda_context) == (200, {"captcha": "off"})


def test_a_sign_up_without_a_solution_is_refused_and_counted(
    defended: MemoryRateLimiter, post: Any, world: Any
) -> None:
    status, answer, _ = post(body())
    assert status == 400
    assert answer["error"]["code"] == "captcha_required"
    assert answer["error"]["field"] == "altcha"
    assert world.store.get("+12065550100") is None and world.sms.sent == []
    assert defended.blocked([world.clock().date()]) == {"captcha_missing": 1}


def test_a_solved_challenge_signs_up_once_and_its_replay_is_refused(
    defended: MemoryRateLimiter, post: Any, world: Any, load_event: Any, lambda_context: Any
) -> None:
    solution = solved(load_event, lambda_context)
    status, _, _ = post(body(altcha=solution))
    assert status == 202
    status, answer, _ = post(body(altcha=solution, phoneNumber="+13125550100"))
    assert status == 400 and answer["error"]["code"] == "captcha_invalid"
    assert world.store.get("+13125550100") is None


def test_a_forged_solution_is_refused(
    defended: MemoryRateLimiter, post: Any, world: Any, load_event: Any, lambda_context: Any
) -> None:
    solution = json.loads(base64.b64decode(solved(load_event, lambda_context)))
    solution["number"] += 1
    forged = base64.b64encode(json.dumps(solution).encode()).decode()
    status, answer, _ = post(body(altcha=forged))
    assert status == 400 and answer["error"]["code"] == "captcha_invalid"


def test_a_bad_number_does_not_use_up_the_solution(
    defended: MemoryRateLimiter, post: Any, load_event: Any, lambda_context: Any
) -> None:
    solution = solved(load_event, lambda_context)
    status, answer, _ = post(body(altcha=solution, phoneNumber="12"))
    assert status == 400 and answer["error"]["field"] == "phoneNumber"
    status, _, _ = post(body(altcha=solution))
    assert status == 202


def test_the_ip_limit_answers_429_with_the_limit_and_retry_after(
    defended: MemoryRateLimiter,
    post: Any,
    world: Any,
    load_event: Any,
    lambda_context: Any,
    make_settings: Any,
) -> None:
    world.deps.settings = make_settings(
        rate_limit_per_ip="3,10", captcha_required=False, resend_cooldown_seconds=0
    )
    for n in range(3):
        status, _, _ = post(body(phoneNumber=f"+1312555010{n}"))
        assert status == 202
    texts = len(world.sms.sent)
    status, answer, headers = post(body(phoneNumber="+14155550100"))
    assert status == 429
    error = answer["error"]
    assert error["code"] == "rate_limited"
    assert error["limit"] == {"scope": "ip", "windowSeconds": 3600, "maximum": 3}
    assert "network" in error["message"]
    assert int(headers["Retry-After"]) == error["retryAfterSeconds"] > 0
    assert world.store.get("+14155550100") is None
    assert len(world.sms.sent) == texts
    assert defended.blocked([world.clock().date()]) == {"rate_limit_ip_hour": 1}


def test_limits_off_let_the_same_ip_through(
    defended: MemoryRateLimiter, post: Any, world: Any, make_settings: Any
) -> None:
    world.deps.settings = make_settings(
        rate_limit_per_ip="1,1", captcha_required=False, signup_rate_limits=False
    )
    for n in range(3):
        status, _, _ = post(body(phoneNumber=f"+1312555010{n}"))
        assert status == 202


def test_the_partner_api_is_limited_per_key_and_end_user_ip(
    defended: MemoryRateLimiter,
    api: Any,
    world: Any,
    make_settings: Any,
) -> None:
    world.deps.settings = make_settings(rate_limit_per_api_key="2,5", captcha_required=True)
    key = api.key()
    for n in range(2):
        status, _ = api.call(
            "POST", "/v1/signups", key, partner_body(phoneNumber=f"+1312555010{n}")
        )
        assert status == 202  # no CAPTCHA on the partner API
    status, answer = api.call("POST", "/v1/signups", key, partner_body(phoneNumber="+14155550100"))
    assert status == 429
    assert answer["error"]["limit"]["scope"] == "api_key"
    assert world.store.get("+14155550100") is None
    # Another key has its own budget.
    other = api.key("Other")
    status, _ = api.call("POST", "/v1/signups", other, partner_body(phoneNumber="+14155550100"))
    assert status == 202


def test_a_partner_refusal_under_an_idempotency_key_is_a_429_and_not_replayed(
    defended: MemoryRateLimiter, api: Any, world: Any, make_settings: Any
) -> None:
    world.deps.settings = make_settings(rate_limit_per_api_key="1,5")
    key = api.key()
    first = partner_body(phoneNumber="+13125550100")
    assert api.call("POST", "/v1/signups", key, first, idempotency_key="a")[0] == 202
    # The replay answers as the first time did: the limit does not see it again.
    assert api.call("POST", "/v1/signups", key, first, idempotency_key="a")[0] == 202
    second = partner_body(phoneNumber="+14155550100")
    status, answer = api.call("POST", "/v1/signups", key, second, idempotency_key="b")
    assert status == 429 and answer["error"]["code"] == "rate_limited"
    # Nothing was kept for the refused key: the same request is refused afresh, not replayed.
    defended.hit = lambda counters, now: None  # type: ignore[method-assign]
    assert api.call("POST", "/v1/signups", key, second, idempotency_key="b")[0] == 202


SECRET = "s" * 48


@pytest.mark.parametrize(
    ("headers", "secret", "expected"),
    [
        # Through our CloudFront: the viewer's address.
        ({"X-Origin-Verify": SECRET, "CloudFront-Viewer-Address": "198.51.100.9:5123"}, SECRET,
         "198.51.100.9"),
        ({"x-origin-verify": SECRET, "cloudfront-viewer-address": "2001:db8::7:443"}, SECRET,
         "2001:db8::7"),
        # A direct call naming any address it likes: its own source address.
        ({"CloudFront-Viewer-Address": "198.51.100.9:5123"}, SECRET, "203.0.113.7"),
        ({"X-Origin-Verify": "guess", "CloudFront-Viewer-Address": "198.51.100.9:1"}, SECRET,
         "203.0.113.7"),
        # No secret configured (locally), or the template's unresolved reference: never believed.
        ({"X-Origin-Verify": "", "CloudFront-Viewer-Address": "198.51.100.9:1"}, "",
         "203.0.113.7"),
        ({"X-Origin-Verify": "{{resolve:secretsmanager:OriginVerifySecret:SecretString}}",
          "CloudFront-Viewer-Address": "198.51.100.9:1"},
         "{{resolve:secretsmanager:OriginVerifySecret:SecretString}}", "203.0.113.7"),
        # A malformed address: the source address.
        ({"X-Origin-Verify": SECRET, "CloudFront-Viewer-Address": "nonsense"}, SECRET,
         "203.0.113.7"),
    ],
)  # fmt: skip
def test_the_counted_address(headers: dict[str, str], secret: str, expected: str) -> None:
    from optin.handlers.signup import client_ip

    assert client_ip(headers, "203.0.113.7", secret) == expected


def test_behind_cloudfront_each_viewer_has_its_own_ip_budget(
    defended: MemoryRateLimiter, post: Any, world: Any, make_settings: Any
) -> None:
    # Everyone arrives from the same edge address (the event's sourceIp); the limit must
    # count the viewers, not the edge.
    world.deps.settings = make_settings(
        rate_limit_per_ip="1,5", captcha_required=False, origin_verify_secret=SECRET
    )

    def via_cloudfront(viewer: str, number: str) -> int:
        headers = {"X-Origin-Verify": SECRET, "CloudFront-Viewer-Address": f"{viewer}:4431"}
        return int(post(body(phoneNumber=number), headers=headers)[0])

    assert via_cloudfront("198.51.100.1", "+13125550100") == 202
    assert via_cloudfront("198.51.100.2", "+13125550101") == 202
    assert via_cloudfront("198.51.100.1", "+13125550102") == 429
