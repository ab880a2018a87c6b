"""Webhook domain: which changes become deliveries, the backoff schedule, the retry window,
and which URLs and addresses are refused."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest

from optin.domain import contact as transitions
from optin.domain import webhooks
from optin.domain.consent import ExpiryReason
from optin.domain.webhooks import Attempt, DeliveryStatus, Endpoint, WebhookError

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NUMBER = "+12065550100"
ENDPOINT = Endpoint("key-a", "https://h.example.com/", webhooks.EVENT_TYPES, NOW, "whsec_x")


def _pending(api_client: str | None = "key-a") -> transitions.Change:
    return transitions.request(
        None,
        phone_number=NUMBER,
        registration_id="reg-1",
        first_name=None,
        execution_arn=None,
        evidence={},
        validation={},
        now=NOW,
        api_client=api_client,
    )


def test_each_ending_becomes_its_event_type() -> None:
    pending = _pending().after
    endings = {
        "signup.confirmed": transitions.confirm(
            pending, registration_id="reg-1", reply={}, now=NOW
        ),
        "signup.expired": transitions.expire(
            pending, registration_id="reg-1", now=NOW, reason=ExpiryReason.NO_REPLY
        ),
        "signup.opted_out": transitions.opt_out(pending, details={"reply": "STOP"}, now=NOW),
        "signup.rejected": transitions.reject(
            pending, registration_id="reg-1", reason="landline", now=NOW
        ),
    }
    for event_type, change in endings.items():
        [delivery] = webhooks.deliveries_for(change.after, change.events, ENDPOINT, NOW)
        assert delivery.id == change.events[0].event_id  # keyed by the ledger event
        assert delivery.event["type"] == event_type
        assert delivery.event["data"]["signupId"] == "reg-1"
        assert delivery.event["data"]["phoneNumber"] == NUMBER
        assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at == NOW
    expired = endings["signup.expired"]
    [delivery] = webhooks.deliveries_for(expired.after, expired.events, ENDPOINT, NOW)
    assert delivery.event["data"]["reason"] == "no_reply"


def test_no_delivery_without_owner_endpoint_or_subscription() -> None:
    web = _pending(api_client=None).after
    change = transitions.confirm(web, registration_id="reg-1", reply={}, now=NOW)
    assert webhooks.deliveries_for(change.after, change.events, ENDPOINT, NOW) == []
    owned = transitions.confirm(_pending().after, registration_id="reg-1", reply={}, now=NOW)
    assert webhooks.deliveries_for(owned.after, owned.events, None, NOW) == []
    other = Endpoint("key-b", ENDPOINT.url, webhooks.EVENT_TYPES, NOW, "s")
    assert webhooks.deliveries_for(owned.after, owned.events, other, NOW) == []
    only_expired = Endpoint("key-a", ENDPOINT.url, (webhooks.EXPIRED,), NOW, "s")
    assert webhooks.deliveries_for(owned.after, owned.events, only_expired, NOW) == []
    # The request itself is not an ending.
    start = _pending()
    assert webhooks.deliveries_for(start.after, start.events, ENDPOINT, NOW) == []


def test_stop_after_an_expiry_is_not_sent_but_after_confirming_is() -> None:
    pending = _pending().after
    expired = transitions.expire(pending, registration_id="reg-1", now=NOW).after
    stop = transitions.opt_out(expired, details={}, now=NOW)
    assert webhooks.deliveries_for(stop.after, stop.events, ENDPOINT, NOW) == []
    confirmed = transitions.confirm(pending, registration_id="reg-1", reply={}, now=NOW).after
    stop = transitions.opt_out(confirmed, details={}, now=NOW)
    [delivery] = webhooks.deliveries_for(stop.after, stop.events, ENDPOINT, NOW)
    assert delivery.event["type"] == "signup.opted_out"


def test_backoff_doubles_from_30s_to_a_one_hour_cap() -> None:
    delays = [webhooks.retry_delay(n, 0.0).total_seconds() for n in range(1, 10)]
    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert webhooks.retry_delay(500, 0.0) == timedelta(hours=1)  # no overflow
    # Jitter only shortens, by at most a fifth: never past the cap.
    assert webhooks.retry_delay(1, 0.999).total_seconds() == pytest.approx(24.006)
    with pytest.raises(ValueError):
        webhooks.retry_delay(0, 0.0)
    with pytest.raises(ValueError):
        webhooks.retry_delay(1, 1.0)


def test_attempts_retry_until_72_hours_then_fail() -> None:
    delivery = webhooks.new_delivery("key-a", webhooks.payload("e", webhooks.TEST, NOW, {}), NOW)
    at = NOW
    count = 0
    while delivery.status == DeliveryStatus.PENDING:
        delivery = webhooks.after_attempt(delivery, Attempt(at, 503, "HTTP 503", 5), jitter=0.0)
        count += 1
        if delivery.next_attempt_at:
            at = delivery.next_attempt_at
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    # Attempt 8 at 30+60+...+1920 = 3810 s, then hourly while inside the 72 h window:
    # attempt 78 at 3810 + 70 h; the next would fall past it, so that one fails the delivery.
    assert count == 78
    assert at == NOW + timedelta(seconds=3810 + 70 * 3600)
    delivered = webhooks.after_attempt(
        webhooks.replayed(delivery, at), Attempt(at, 204, None, 3), jitter=0.3
    )
    assert delivered.status == DeliveryStatus.DELIVERED and len(delivered.attempts) == count + 1


def test_a_permanent_error_fails_at_once() -> None:
    delivery = webhooks.new_delivery("k", webhooks.payload("e", webhooks.TEST, NOW, {}), NOW)
    failed = webhooks.after_attempt(
        delivery, Attempt(NOW, None, "Refused", 0), jitter=0.0, permanent=True
    )
    assert failed.status == DeliveryStatus.FAILED


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/", "https_required"),
        ("ftp://hooks.example.com/", "invalid_url"),
        ("https://", "invalid_url"),
        ("hooks.example.com/in", "invalid_url"),
        ("https://user:pw@hooks.example.com/", "invalid_url"),
        ("https://hooks.example.com:99999/", "invalid_url"),
        ("https://127.0.0.1/", "private_address"),
        ("https://10.1.2.3/", "private_address"),
        ("https://169.254.169.254/latest/meta-data/", "private_address"),
        ("https://[::1]/", "private_address"),
        ("https://[fd00:ec2::254]/", "private_address"),
        ("https://[::ffff:192.168.1.1]/", "private_address"),
        ("https://localhost/", "private_address"),
        ("https://h.example.com/" + "a" * 2100, "invalid_url"),
        (42, "invalid_url"),
        ("", "invalid_url"),
    ],
)
def test_bad_urls_are_refused_with_a_code(url: object, code: str) -> None:
    with pytest.raises(WebhookError) as refused:
        webhooks.check_url(url, allow_private=False)
    assert refused.value.code == code


def test_the_switch_allows_http_and_private_hosts() -> None:
    for url in ("http://127.0.0.1:8080/hook", "https://10.0.0.5/", "http://localhost/x"):
        assert webhooks.check_url(url, allow_private=True) == url
    assert webhooks.check_url(" https://hooks.example.com/in?t=1 ", allow_private=False) == (
        "https://hooks.example.com/in?t=1"
    )


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("100.64.0.1", True),  # carrier-grade NAT: not publicly routable
        ("0.0.0.0", True),
        ("224.0.0.1", True),
        ("172.16.0.1", True),
        ("192.168.0.1", True),
        ("fe80::1", True),
    ],
)
def test_refused_addresses(address: str, refused: bool) -> None:
    assert (webhooks.refused_address(ipaddress.ip_address(address)) is not None) is refused


def test_secrets_are_prefixed_random_and_long() -> None:
    one, two = webhooks.new_secret(), webhooks.new_secret()
    assert one.startswith("whsec_") and one != two and len(one) == len("whsec_") + 43
