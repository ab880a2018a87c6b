"""Configuration: one pydantic model, the single source of every default.

Each field is read from the environment variable of the same name in upper case
(`program_name` ← PROGRAM_NAME); template.yaml sets them on AWS, `local/env.json` locally.
Handlers build Settings per invocation, never at import time: a warm Lambda keeps its
module state across invocations, and tests change the environment between them.
A bad value is a ConfigError naming the variable, never a crash with a trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from optin.domain.errors import ConfigError
from optin.domain.rate_limits import Policy, parse_pair

DEFAULT_CONFIRM_KEYWORDS = ("YES", "Y", "YEAH", "YEP", "OK", "CONFIRM")
StoreKind = Literal["sqlite", "dynamodb"]


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contact_store: StoreKind = "sqlite"
    sqlite_path: str = ""
    contacts_table: str = ""
    # A phone number, its ARN, or a pool's: what SendTextMessage takes as OriginationIdentity.
    origination_identity: str = ""
    opt_out_list_name: str = ""
    configuration_set_name: str = ""
    # End User Messaging CarrierLookup on US/CA numbers (paid per lookup): off unless set.
    carrier_lookup: bool = False
    program_name: str = "Acme Alerts"
    program_contact: str = "support@example.com"
    terms_url: str = "https://example.com/sms-terms"
    # Linked from the form's header and beside its consent box; a privacy policy served
    # over plain http would undo what the page promises, so only https is accepted.
    privacy_url: str = "https://example.com/privacy"
    signup_url: str = "https://example.com/sms"
    message_frequency: str = "Up to 4 msgs/month"
    allowed_countries: tuple[str, ...] = Field(default=("US", "CA"), min_length=1)
    confirm_keywords: tuple[str, ...] = Field(default=DEFAULT_CONFIRM_KEYWORDS, min_length=1)
    disclosure_version: str = "2026-11-01"
    resend_cooldown_seconds: int = Field(default=60, ge=0)
    max_confirmation_sends: int = Field(default=3, ge=1)
    # Confirmation texts one number may get in any 24 hours, across its registrations
    # (optin.domain.send_limits); the per-registration limit above does not stop a
    # sign-up that is let expire and made again.
    max_confirmation_texts_per_day: int = Field(default=3, ge=1)
    # SendTextMessage's MaxPrice: US dollars per message part, botocore's pattern. A US or
    # Canadian part costs about a cent; premium-rate routes cost many times that.
    max_price_per_message: str = Field(default="0.05", pattern=r"^[0-9]{0,2}\.[0-9]{1,5}$")
    state_machine_arn: str = ""
    # Defences against SMS pumping (docs/security.md). SIGNUP_RATE_LIMITS=off turns every
    # rate limit off; CAPTCHA_REQUIRED=false the form's proof of work. Both are on unless
    # switched off, as in the template.
    signup_rate_limits: bool = True
    # "per hour,per day" for each scope (optin.domain.rate_limits.parse_pair).
    rate_limit_per_number: str = "5,10"
    rate_limit_per_ip: str = "10,50"
    rate_limit_per_prefix: str = "20,100"
    rate_limit_global: str = "1000,10000"
    rate_limit_per_api_key: str = "3600,50000"
    captcha_required: bool = True
    # The HMAC key that signs ALTCHA challenges (a secret: never logged).
    captcha_hmac_key: str = Field(default="", repr=False)
    # The secret our CloudFront distribution adds to every request it sends the API
    # (X-Origin-Verify): only a request carrying it may name the viewer's address in
    # CloudFront-Viewer-Address. Empty (locally): the socket's peer is the caller.
    origin_verify_secret: str = Field(default="", repr=False)
    # ALTCHA's maxnumber: the browser tries up to this many hashes, half on average.
    captcha_max_number: int = Field(default=100_000, ge=1_000, le=10_000_000)

    @field_validator(
        "rate_limit_per_number",
        "rate_limit_per_ip",
        "rate_limit_per_prefix",
        "rate_limit_global",
        "rate_limit_per_api_key",
    )
    @classmethod
    def _limit_pair(cls, value: str) -> str:
        parse_pair(value)  # a bad pair is refused here, naming the variable
        return value

    @field_validator("signup_rate_limits", mode="before")
    @classmethod
    def _on_off(cls, value: Any) -> Any:
        # The template parameter says on|off; pydantic's bool takes those as well.
        return value.strip().lower() if isinstance(value, str) else value

    def rate_policy(self) -> Policy:
        return Policy(
            number=parse_pair(self.rate_limit_per_number),
            ip=parse_pair(self.rate_limit_per_ip),
            prefix=parse_pair(self.rate_limit_per_prefix),
            global_=parse_pair(self.rate_limit_global),
            api_key=parse_pair(self.rate_limit_per_api_key),
        )

    @field_validator("allowed_countries", mode="before")
    @classmethod
    def _countries(cls, value: Any) -> Any:
        value = _csv(value)
        return tuple(str(code).upper() for code in value) if isinstance(value, tuple) else value

    @field_validator("confirm_keywords", mode="before")
    @classmethod
    def _keywords(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("privacy_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
            raise ValueError("must be an https:// address")
        return value

    @field_validator("contact_store", mode="before")
    @classmethod
    def _store(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Settings from environment variables; unset or blank variables keep the default."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = env.get(name.upper())
            if raw is not None and raw.strip():
                values[name] = raw.strip()
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            variable = str(first["loc"][0]).upper() if first.get("loc") else "a setting"
            given = values.get(str(first["loc"][0])) if first.get("loc") else None
            raise ConfigError(f"{variable} is not valid ({first['msg']}): got {given!r}.") from None
