"""The sign-up API over real HTTP, as a partner's system or the web form calls it."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from tests.support.numbers import new_us_number
from tests.support.runtime import LocalRuntime, wait_for

JSON = {"Content-Type": "application/json"}


def valid(**changes: object) -> dict[str, object]:
    return {"firstName": "Ada", "phoneNumber": new_us_number(), "consent": True, **changes}


BAD_REQUESTS = [
    pytest.param(valid(phoneNumber=None), 400, "missing_phone_number", id="no number"),
    pytest.param({"firstName": "Ada", "consent": True}, 400, "missing_phone_number", id="absent"),
    pytest.param(valid(phoneNumber="abc"), 400, "invalid_phone_number", id="abc"),
    pytest.param(valid(phoneNumber="+1 555"), 400, "invalid_phone_number", id="+1 555"),
    pytest.param(valid(phoneNumber="1" * 40), 400, "invalid_phone_number", id="40 digits"),
    pytest.param(valid(phoneNumber="📱📱📱"), 400, "invalid_phone_number", id="emoji"),
    pytest.param(valid(phoneNumber="+447400123456"), 400, "country_not_allowed", id="UK"),
    pytest.param(valid(phoneNumber="+18005550100"), 400, "unsupported_line_type", id="toll-free"),
    pytest.param(valid(consent=False), 400, "consent_required", id="no consent"),
    pytest.param(valid(consent=None), 400, "consent_required", id="consent missing"),
]


@pytest.mark.parametrize(("body", "status", "code"), BAD_REQUESTS)
def test_bad_sign_up_gets_4xx_with_code_and_sentence_and_changes_nothing(
    shared_runtime: LocalRuntime, body: dict[str, object], status: int, code: str
) -> None:
    rt = shared_runtime
    got_status, response = rt.post("/signups", {k: v for k, v in body.items() if v is not None})

    assert got_status == status, response
    assert response["error"]["code"] == code
    assert len(response["error"]["message"]) > 10
    number = body.get("phoneNumber")
    if isinstance(number, str) and number.startswith("+"):
        assert rt.messages(number) == []
        contact_status, _ = rt.get("/sandbox/contacts/" + quote(number, safe=""))
        assert contact_status in (400, 404)  # unparseable, or nothing stored


@pytest.mark.parametrize(
    ("raw", "headers", "status", "code"),
    [
        pytest.param(b"[1, 2]", JSON, 400, "body_not_object", id="array"),
        pytest.param(b'"text"', JSON, 400, "body_not_object", id="string"),
        pytest.param(b"{not json", JSON, 400, "invalid_json", id="broken json"),
        pytest.param(b"", JSON, 400, "invalid_json", id="empty"),
        pytest.param(
            json.dumps(valid(firstName="x" * 17000)).encode(), JSON, 413, "body_too_large",
            id="over 16 KB",
        ),
        pytest.param(
            b"phoneNumber=%2B12064861111&consent=true",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported_media_type",
            id="form encoded",
        ),
        pytest.param(b"{}", {"Content-Type": "text/plain"}, 415, "unsupported_media_type",
                     id="text/plain"),
        pytest.param(
            b'{"phoneNumber": "+12064861111", "consent": false, "consent": true}', JSON, 400,
            "duplicate_key", id="consent twice",
        ),
        pytest.param(
            json.dumps(valid(page="https://example.com/" + "p" * 2100)).encode(), JSON, 400,
            "field_too_long", id="page over 2048",
        ),
    ],
)  # fmt: skip
def test_malformed_bodies_get_clear_errors(
    shared_runtime: LocalRuntime, raw: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    got_status, _, response = shared_runtime.request("POST", "/signups", raw=raw, headers=headers)

    assert got_status == status, response
    assert response["error"]["code"] == code
    assert response["error"]["message"]


def test_consent_evidence_is_recorded_with_the_disclosure_shown(
    shared_runtime: LocalRuntime,
) -> None:
    rt, phone = shared_runtime, new_us_number()
    disclosure_status, disclosure = rt.get("/disclosure")
    assert disclosure_status == 200

    status, body = rt.post(
        "/signups",
        {
            "firstName": "Grace",
            "phoneNumber": phone,
            "consent": True,
            "disclosureVersion": disclosure["version"],
            "page": "https://example.com/sms",
        },
        {"User-Agent": "EvidenceTest/1.0"},
    )

    assert status == 202, body
    contact = wait_for(lambda: rt.contact(phone), what="the contact")
    requested = next(e for e in contact["events"] if e["type"] == "requested")
    evidence = json.dumps(requested)
    assert "EvidenceTest/1.0" in evidence
    assert "127.0.0.1" in evidence
    assert "https://example.com/sms" in evidence
    assert disclosure["version"] in evidence
    assert disclosure["text"][:40] in evidence


def test_national_format_is_accepted_and_stored_as_e164(shared_runtime: LocalRuntime) -> None:
    rt = shared_runtime
    phone = new_us_number()
    national = f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"

    status, body = rt.post("/signups", valid(phoneNumber=national))

    assert status == 202, body
    wait_for(lambda: rt.contact(phone), what="the contact under its E.164 number")


def test_unknown_contact_is_404_and_a_bad_number_400(shared_runtime: LocalRuntime) -> None:
    assert shared_runtime.get("/sandbox/contacts/%2B12064869999")[0] == 404
    status, body = shared_runtime.get("/sandbox/contacts/abc")
    assert status == 400
    assert body["error"]["code"] == "invalid_phone_number"


def test_contacts_are_not_on_the_public_api(shared_runtime: LocalRuntime) -> None:
    """A contact's evidence (IP, user agent, texts) is for support staff, not for anyone
    who knows a number: the template gives GET /contacts/{phoneNumber} no public route."""
    phone = new_us_number()
    assert shared_runtime.signup(phone)[0] == 202
    status, body = shared_runtime.get("/contacts/" + quote(phone, safe=""))
    assert status == 404 and body["error"]["code"] == "not_found"


def test_a_signup_reads_its_own_status_right_after_the_202(shared_runtime: LocalRuntime) -> None:
    phone = new_us_number()
    status, answer = shared_runtime.signup(phone)
    assert status == 202
    # No wait: the number was reserved before the answer was sent.
    status, found = shared_runtime.get(f"/signups/{answer['registrationId']}")
    assert status == 200, found
    assert found["status"] == "PENDING" and found["phoneNumber"].endswith(phone[-4:])
    assert phone not in json.dumps(found)


def test_near_simultaneous_signups_get_one_registration(shared_runtime: LocalRuntime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    phone = new_us_number()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: shared_runtime.signup(phone), range(4)))
    # One registration whatever the timing: a request that arrives after the text went out
    # (a loaded machine spreads four "simultaneous" requests over seconds) is a resend within
    # the cooldown, a 429 resend_cooldown, never a second registration or a second text.
    accepted = [answer for status, answer in answers if status == 202]
    refused = [answer["error"]["code"] for status, answer in answers if status != 202]
    assert accepted and set(refused) <= {"resend_cooldown"}, answers
    assert len({answer["registrationId"] for answer in accepted}) == 1
    wait_for(lambda: shared_runtime.messages(phone), what="the one confirmation text")
    time.sleep(0.5)
    assert len(shared_runtime.messages(phone)) == 1


def test_unknown_route_is_a_json_404(shared_runtime: LocalRuntime) -> None:
    status, body = shared_runtime.post("/nothing-here", {})
    assert status == 404
    assert body["error"]["code"] == "not_found"
