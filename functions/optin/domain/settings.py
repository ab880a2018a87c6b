"""Configuration, built from a mapping (os.environ in Lambda, a dict in tests).

Handlers build Settings per invocation: the local runtime runs every function in one
process and swaps os.environ per invocation, so nothing may be read at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from optin.domain.errors import ConfigError

DEFAULT_CONFIRM_KEYWORDS = ("YES", "Y", "YEAH", "YEP", "OK", "CONFIRM")
STORE_KINDS = ("sqlite", "dynamodb")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}.") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {value}.")
    return value


@dataclass(frozen=True)
class Settings:
    contact_store: str = "sqlite"
    sqlite_path: str = ""
    contacts_table: str = ""
    origination_identity: str = ""
    program_name: str = "Acme Alerts"
    program_contact: str = "support@example.com"
    terms_url: str = "https://example.com/sms-terms"
    signup_url: str = "https://example.com/sms"
    message_frequency: str = "Up to 4 msgs/month"
    allowed_countries: tuple[str, ...] = ("US", "CA")
    confirm_keywords: tuple[str, ...] = DEFAULT_CONFIRM_KEYWORDS
    disclosure_version: str = "2026-11-01"
    resend_cooldown_seconds: int = 60
    max_confirmation_sends: int = 3
    state_machine_arn: str = ""

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        defaults = cls()
        store = (env.get("CONTACT_STORE") or "sqlite").strip().lower()
        if store not in STORE_KINDS:
            raise ConfigError(
                f"CONTACT_STORE must be one of {', '.join(STORE_KINDS)}, got {store!r}."
            )
        allowed = tuple(c.upper() for c in _csv(env.get("ALLOWED_COUNTRIES", ""))) or (
            defaults.allowed_countries
        )
        keywords = _csv(env.get("CONFIRM_KEYWORDS", "")) or defaults.confirm_keywords
        max_sends = _positive_int(env, "MAX_CONFIRMATION_SENDS", defaults.max_confirmation_sends)
        if max_sends < 1:
            raise ConfigError("MAX_CONFIRMATION_SENDS must be at least 1.")

        def text(name: str, default: str) -> str:
            value = env.get(name)
            return value.strip() if value and value.strip() else default

        return cls(
            contact_store=store,
            sqlite_path=env.get("SQLITE_PATH", "").strip(),
            contacts_table=env.get("CONTACTS_TABLE", "").strip(),
            origination_identity=env.get("ORIGINATION_IDENTITY", "").strip(),
            program_name=text("PROGRAM_NAME", defaults.program_name),
            program_contact=text("PROGRAM_CONTACT", defaults.program_contact),
            terms_url=text("TERMS_URL", defaults.terms_url),
            signup_url=text("SIGNUP_URL", defaults.signup_url),
            message_frequency=text("MESSAGE_FREQUENCY", defaults.message_frequency),
            allowed_countries=allowed,
            confirm_keywords=keywords,
            disclosure_version=text("DISCLOSURE_VERSION", defaults.disclosure_version),
            resend_cooldown_seconds=_positive_int(
                env, "RESEND_COOLDOWN_SECONDS", defaults.resend_cooldown_seconds
            ),
            max_confirmation_sends=max_sends,
            state_machine_arn=env.get("STATE_MACHINE_ARN", "").strip(),
        )
