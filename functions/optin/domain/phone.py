"""Phone number checks, offline, with the `phonenumbers` numbering-plan data.

The numbering plan cannot tell mobile from landline for US and CA numbers (they are
FIXED_LINE_OR_MOBILE), so those are accepted; a number is rejected for its line type
only when the plan says for sure that it cannot take a text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType, carrier, geocoder, timezone

MAX_INPUT_LENGTH = 32

# Digits plus the separators people type; letters (vanity numbers), emoji and anything
# else are rejected before phonenumbers sees them, which would otherwise map letters to
# digits or skip junk.
_ALLOWED_CHARS = re.compile(r"^\+?[0-9\s().\-]+$")

_REJECTED_TYPES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.PAGER: "a pager number",
    PhoneNumberType.UAN: "a universal access number",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
}

_TYPE_NAMES: dict[int, str] = {
    value: name
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}


@dataclass(frozen=True)
class NumberCheck:
    """Outcome of checking a phone number. `reason` is a sentence for a person."""

    acceptable: bool
    e164: str | None = None
    reason: str | None = None
    code: str | None = None
    country: str | None = None
    line_type: str | None = None
    time_zones: tuple[str, ...] = field(default_factory=tuple)
    carrier: str | None = None

    def as_payload(self) -> dict[str, Any]:
        """The validate_number Lambda result; every key is always present."""
        return {
            "acceptable": self.acceptable,
            "e164": self.e164,
            "reason": self.reason,
            "code": self.code,
            "country": self.country,
            "lineType": self.line_type,
            "timeZones": list(self.time_zones),
            "carrier": self.carrier,
        }


def _country_name(region: str) -> str:
    example = phonenumbers.example_number(region)
    name = geocoder.country_name_for_number(example, "en") if example else ""
    return name or region


def _allowed_sentence(allowed: tuple[str, ...]) -> str:
    names = [_country_name(region) for region in allowed]
    if not names:
        return "No countries are accepted at the moment."
    if len(names) == 1:
        return f"Only {names[0]} numbers can sign up."
    return f"Only {', '.join(names[:-1])} and {names[-1]} numbers can sign up."


def _reject(code: str, reason: str, **extra: Any) -> NumberCheck:
    return NumberCheck(acceptable=False, code=code, reason=reason, **extra)


def check_number(raw: object, allowed_countries: tuple[str, ...] = ("US", "CA")) -> NumberCheck:
    """Normalise `raw` to E.164 and decide whether it may sign up for texts."""
    allowed = tuple(region.upper() for region in allowed_countries)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return _reject("missing_phone_number", "Enter a phone number.")
    if not isinstance(raw, str):
        return _reject("invalid_phone_number", "The phone number must be text, like +12065550100.")
    text = raw.strip()
    invalid = (
        "That doesn't look like a phone number. Enter a mobile number such as (206) 555-0100,"
        " or with its country code, +12065550100."
    )
    if len(text) > MAX_INPUT_LENGTH or not _ALLOWED_CHARS.match(text):
        return _reject("invalid_phone_number", invalid)
    # National format ("(206) 555-0100") is read as the first allowed country's.
    default_region = allowed[0] if allowed else "US"
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return _reject("invalid_phone_number", invalid)

    # Country first: a foreign number is "not allowed" even where our copy of the plan
    # thinks it is invalid (e.g. UK drama numbers), which is the more useful answer.
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    if regions and not any(region in allowed for region in regions):
        foreign = phonenumbers.region_code_for_number(number) or regions[0]
        return _reject(
            "country_not_allowed",
            f"That is a {_country_name(foreign)} number. {_allowed_sentence(allowed)}",
            country=foreign,
        )
    if not phonenumbers.is_valid_number(number):
        return _reject("invalid_phone_number", invalid)

    region = phonenumbers.region_code_for_number(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number_type = phonenumbers.number_type(number)
    details: dict[str, Any] = {
        "e164": e164,
        "country": region,
        "line_type": _TYPE_NAMES.get(number_type, "UNKNOWN"),
        "time_zones": tuple(
            zone for zone in timezone.time_zones_for_number(number) if zone != "Etc/Unknown"
        ),
        "carrier": carrier.name_for_number(number, "en") or None,
    }
    if region not in allowed:
        return _reject(
            "country_not_allowed",
            f"That is a {_country_name(region or '')} number. {_allowed_sentence(allowed)}",
            **details,
        )
    if number_type in _REJECTED_TYPES:
        return _reject(
            "unsupported_line_type",
            f"That is {_REJECTED_TYPES[number_type]}, which can't receive text messages. "
            "Enter a mobile number.",
            **details,
        )
    return NumberCheck(acceptable=True, **details)


def mask(number: str | None) -> str:
    """Mask a phone number for logs: +1206***0100 (country code + 3 digits, last 4)."""
    if not number:
        return ""
    text = str(number).strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+") and len(digits) >= 8:
        country_code_length = 1
        try:
            parsed = phonenumbers.parse(text, None)
            country_code_length = len(str(parsed.country_code))
        except phonenumbers.NumberParseException:
            pass
        head = digits[: country_code_length + 3]
        return f"+{head}***{digits[-4:]}"
    if len(digits) >= 8:
        return f"{digits[:3]}***{digits[-4:]}"
    # Too short or not a number at all: show nothing that could identify anyone.
    return "***"


# Where the numbering plan cannot tell mobile from landline (US and CA share ranges), a
# carrier lookup can. Only these answers change the decision; VoIP is accepted and flagged.
LOOKUP_COUNTRIES = frozenset({"US", "CA"})


def apply_line_lookup(check: NumberCheck, line_type: str, carrier: str | None) -> NumberCheck:
    """The check refined by a carrier lookup's line type (MOBILE, LANDLINE, VOIP, INVALID,
    UNKNOWN): a landline or a number not in service is refused; the rest keep the check's
    decision, with the looked-up line type and carrier recorded."""
    refined = replace(check, line_type=line_type, carrier=carrier or check.carrier)
    if not check.acceptable:
        return refined
    if line_type == "LANDLINE":
        return replace(
            refined,
            acceptable=False,
            code="landline",
            reason="That number is a landline, which can't receive text messages. "
            "Enter a mobile number.",
        )
    if line_type == "INVALID":
        return replace(
            refined,
            acceptable=False,
            code="not_in_service",
            reason="That number is not in service. Check it and enter a mobile number.",
        )
    return refined
