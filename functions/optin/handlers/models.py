"""Pydantic models of the events the handlers receive (Powertools parser)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from optin.domain.messages import (
    FIRST_NAME_MAX_LENGTH,
    FIRST_NAME_RULE,
    is_safe_first_name,
    normalise_first_name,
)

# Upper bounds on the consent evidence a sign-up stores (docs/security.md). Body fields
# beyond them are refused (400 field_too_long); browser- and proxy-written headers are cut.
DISCLOSURE_VERSION_MAX_LENGTH = 64
PAGE_MAX_LENGTH = 2048
PHONE_NUMBER_MAX_LENGTH = 64
USER_AGENT_MAX_LENGTH = 512
FORWARDED_FOR_MAX_LENGTH = 512
API_CLIENT_MAX_LENGTH = 128
# Marks where a value was cut, so the evidence never passes a cut value off as whole.
CUT_MARK = "…"


def keep_head(value: str | None, limit: int) -> str | None:
    """`value` cut to at most `limit` characters, its beginning kept."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - len(CUT_MARK)] + CUT_MARK


def keep_tail(value: str | None, limit: int) -> str | None:
    """`value` cut to at most `limit` characters, its end kept."""
    if value is None or len(value) <= limit:
        return value
    return CUT_MARK + value[len(value) - limit + len(CUT_MARK) :]


class _Lenient(BaseModel):
    # Step Functions and SNS may add fields over time: ignore what we do not use.
    model_config = ConfigDict(extra="ignore")


class ValidateNumberEvent(_Lenient):
    # Anything at all: the domain answers every input with a readable reason.
    phoneNumber: Any = None
    # The sign-up that reserved the number: a refusal marks its contact REJECTED.
    registrationId: str | None = None


class CreateContactEvent(_Lenient):
    registrationId: str = Field(min_length=1)
    phoneNumber: str = Field(min_length=2)
    firstName: str | None = None
    # Absent when the sign-up reserved the contact (its evidence is in the ledger already).
    evidence: dict[str, Any] | None = None
    validation: dict[str, Any] = Field(default_factory=dict)
    executionArn: str | None = None


class SendConfirmationEvent(_Lenient):
    taskToken: str = Field(min_length=1)
    registrationId: str = Field(min_length=1)
    phoneNumber: str = Field(min_length=2)
    firstName: str | None = None
    # The wait's TimeoutSeconds (the same state input TimeoutSecondsPath reads), so the
    # contact records when this wait ends; absent from executions of older definitions.
    confirmationWindowSeconds: int | None = Field(default=None, ge=1)


class OptInEvent(_Lenient):
    registrationId: str = Field(min_length=1)
    phoneNumber: str = Field(min_length=2)
    firstName: str | None = None
    # What inbound_sms passed to SendTaskSuccess: {"reply", "inboundMessageId", "receivedAt"}.
    reply: dict[str, Any] = Field(default_factory=dict)


class ExpireEvent(_Lenient):
    registrationId: str = Field(min_length=1)
    phoneNumber: str = Field(min_length=2)


class SignupBody(BaseModel):
    """POST /signups. phoneNumber and consent are checked by hand for precise codes."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    phoneNumber: Any = None
    consent: Any = None
    firstName: str | None = Field(default=None, max_length=FIRST_NAME_MAX_LENGTH)
    disclosureVersion: str | None = Field(default=None, max_length=DISCLOSURE_VERSION_MAX_LENGTH)
    page: str | None = Field(default=None, max_length=PAGE_MAX_LENGTH)
    # The ALTCHA widget's solution (base64 JSON); its size is checked by the CAPTCHA adapter.
    altcha: str | None = None

    @field_validator("phoneNumber")
    @classmethod
    def _phone_length(cls, value: Any) -> Any:
        # Only the length here: the number check gives every other refusal its own code.
        if isinstance(value, str) and len(value) > PHONE_NUMBER_MAX_LENGTH:
            raise PydanticCustomError(
                "string_too_long",
                "too long",
                {"max_length": PHONE_NUMBER_MAX_LENGTH},
            )
        return value

    @field_validator("firstName")
    @classmethod
    def _safe_name(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not is_safe_first_name(value):
            raise ValueError(FIRST_NAME_RULE)
        return normalise_first_name(value)

    @field_validator("page")
    @classmethod
    def _page_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value


class EumInboundMessage(_Lenient):
    """End User Messaging SMS two-way message, as published to the SNS topic."""

    originationNumber: str = Field(min_length=2, max_length=32)
    destinationNumber: str = Field(min_length=1, max_length=256)
    messageKeyword: str | None = None
    messageBody: str = Field(max_length=10_000)
    inboundMessageId: str = Field(min_length=1, max_length=256)
    previousPublishedMessageId: str | None = None
    isoCountryCode: str | None = None


class SnsMessage(_Lenient):
    # Only what we use, so a local runtime's minimal SNS record parses too.
    Message: str
    MessageId: str | None = None
    Timestamp: datetime | None = None


class SnsRecord(_Lenient):
    Sns: SnsMessage
