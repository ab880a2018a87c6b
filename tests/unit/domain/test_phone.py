from __future__ import annotations

import pytest

from optin.domain.phone import check_number, mask


@pytest.mark.parametrize(
    ("raw", "e164", "country"),
    [
        ("+12065550100", "+12065550100", "US"),
        ("(206) 555-0100", "+12065550100", "US"),
        ("206.555.0100", "+12065550100", "US"),
        (" +1 206 555 0100 ", "+12065550100", "US"),
        ("+16135550123", "+16135550123", "CA"),
        ("+1 604 555 0100", "+16045550100", "CA"),
    ],
)
def test_us_and_ca_numbers_are_accepted(raw: str, e164: str, country: str) -> None:
    check = check_number(raw, ("US", "CA"))
    assert check.acceptable
    assert check.e164 == e164
    assert check.country == country
    assert check.reason is None and check.code is None
    # The plan cannot tell US/CA mobile from landline: that is accepted.
    assert check.line_type == "FIXED_LINE_OR_MOBILE"
    assert check.time_zones


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "missing_phone_number"),
        ("", "missing_phone_number"),
        ("   ", "missing_phone_number"),
        ("abc", "invalid_phone_number"),
        ("+1 555", "invalid_phone_number"),
        ("1" * 40, "invalid_phone_number"),
        ("+" + "2" * 40, "invalid_phone_number"),
        ("📱📱📱", "invalid_phone_number"),
        ("+1206555010😀", "invalid_phone_number"),
        ("1-800-FLOWERS", "invalid_phone_number"),
        (12065550100, "invalid_phone_number"),
        ("+447700900123", "country_not_allowed"),  # UK (Ofcom drama range)
        ("+442071838750", "country_not_allowed"),  # UK landline
        ("+18765550100", "country_not_allowed"),  # Jamaica shares +1
        ("+18005550100", "unsupported_line_type"),  # toll-free
        ("+18885550100", "unsupported_line_type"),  # toll-free
        ("+19005550100", "unsupported_line_type"),  # premium rate
    ],
)
def test_bad_numbers_are_rejected_with_a_code_and_a_sentence(raw: object, code: str) -> None:
    check = check_number(raw, ("US", "CA"))
    assert not check.acceptable
    assert check.code == code
    assert check.reason and check.reason.endswith(".")


def test_country_reason_names_the_allowed_countries() -> None:
    check = check_number("+442071838750", ("US", "CA"))
    assert check.country == "GB"
    assert "United Kingdom" in (check.reason or "")
    assert "United States and Canada" in (check.reason or "")


def test_allow_list_is_configurable() -> None:
    assert check_number("+447400123456", ("GB",)).acceptable
    assert check_number("+12065550100", ("GB",)).code == "country_not_allowed"


@pytest.mark.parametrize(
    ("raw", "region", "line_type"),
    [
        ("+441212345678", "GB", "FIXED_LINE"),
        ("+447640123456", "GB", "PAGER"),
        ("+445512345678", "GB", "UAN"),
        ("+449012345678", "GB", "PREMIUM_RATE"),
        ("+4918012345", "DE", "SHARED_COST"),
        ("+49177991234567", "DE", "VOICEMAIL"),
    ],
)
def test_types_that_cannot_take_texts_are_rejected_where_the_plan_knows(
    raw: str, region: str, line_type: str
) -> None:
    check = check_number(raw, (region,))
    assert check.line_type == line_type
    assert check.code == "unsupported_line_type"
    assert check.e164 == raw


def test_mobile_and_voip_numbers_are_accepted_where_the_plan_knows() -> None:
    assert check_number("+447400123456", ("GB",)).line_type == "MOBILE"
    assert check_number("+445612345678", ("GB",)).acceptable  # VOIP can take texts


def test_payload_always_has_every_key() -> None:
    for raw in ("+12065550100", "abc", None, "+18005550100"):
        payload = check_number(raw).as_payload()
        assert set(payload) == {
            "acceptable",
            "e164",
            "reason",
            "code",
            "country",
            "lineType",
            "timeZones",
            "carrier",
        }
        assert isinstance(payload["timeZones"], list)


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+12065550100", "+1206***0100"),
        ("+447400123456", "+44740***3456"),
        ("2065550100", "206***0100"),
        ("abc", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask(number: str | None, masked: str) -> None:
    assert mask(number) == masked
