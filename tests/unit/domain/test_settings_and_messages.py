from __future__ import annotations

import pytest

from optin.domain import messages
from optin.domain.errors import ConfigError, ResendCooldown, ResendLimit
from optin.domain.resend import check_resend
from optin.domain.settings import Settings

TEMPLATE_ENV = {
    "CONTACT_STORE": "sqlite",
    "SQLITE_PATH": "contacts.db",
    "ORIGINATION_IDENTITY": "+12065550142",
    "PROGRAM_NAME": "Acme Alerts",
    "PROGRAM_CONTACT": "support@example.com",
    "TERMS_URL": "https://example.com/sms-terms",
    "PRIVACY_URL": "https://example.com/privacy",
    "SIGNUP_URL": "https://example.com/sms",
    "MESSAGE_FREQUENCY": "Up to 4 msgs/month",
    "ALLOWED_COUNTRIES": "US,CA",
    "CONFIRM_KEYWORDS": "YES,Y,YEAH,YEP,OK,CONFIRM",
    "DISCLOSURE_VERSION": "2026-11-01",
    "RESEND_COOLDOWN_SECONDS": "60",
    "MAX_CONFIRMATION_SENDS": "3",
}


def test_settings_from_the_template_environment() -> None:
    settings = Settings.from_mapping(TEMPLATE_ENV)
    assert settings.contact_store == "sqlite"
    assert settings.allowed_countries == ("US", "CA")
    assert settings.confirm_keywords == ("YES", "Y", "YEAH", "YEP", "OK", "CONFIRM")
    assert settings.resend_cooldown_seconds == 60 and settings.max_confirmation_sends == 3
    assert settings.state_machine_arn == ""
    assert settings.privacy_url == "https://example.com/privacy"


def test_settings_defaults_and_normalisation() -> None:
    settings = Settings.from_mapping({"ALLOWED_COUNTRIES": " us , ca ,", "PROGRAM_NAME": " "})
    assert settings.contact_store == "sqlite"
    assert settings.allowed_countries == ("US", "CA")
    assert settings.program_name == "Acme Alerts"


@pytest.mark.parametrize(
    "env",
    [
        {"RESEND_COOLDOWN_SECONDS": "soon"},
        {"RESEND_COOLDOWN_SECONDS": "-1"},
        {"MAX_CONFIRMATION_SENDS": "0"},
        {"CONTACT_STORE": "mongo"},
        {"PRIVACY_URL": "http://example.com/privacy"},
        {"PRIVACY_URL": "example.com/privacy"},
        {"PRIVACY_URL": "https://"},
        {"PRIVACY_URL": "https://example.com/a b"},
        {"PRIVACY_URL": "javascript:alert(1)"},
    ],
)
def test_bad_settings_are_config_errors(env) -> None:
    with pytest.raises(ConfigError):
        Settings.from_mapping(env)


def test_confirmation_text_follows_ctia() -> None:
    settings = Settings.from_mapping(TEMPLATE_ENV)
    text = messages.confirmation(settings, "Ana").text
    for part in (
        "Acme Alerts",
        "Reply YES",
        "Up to 4 msgs/month.",
        "Msg & data rates may apply.",
        "HELP for help",
        "STOP to cancel",
        "https://example.com/sms-terms",
    ):
        assert part in text


def test_texts_are_configurable() -> None:
    settings = Settings.from_mapping(
        {**TEMPLATE_ENV, "PROGRAM_NAME": "Beta Deals", "MESSAGE_FREQUENCY": "2 msgs/week."}
    )
    text = messages.confirmation(settings).text
    assert text.startswith("Beta Deals: Reply YES")
    assert "2 msgs/week. Msg" in text


def test_unsafe_first_names_never_reach_a_text() -> None:
    settings = Settings()
    for name in ("http://evil.example", "Call 555-0100", "a" * 51, "  ", "<b>"):
        for build in (messages.confirmation, messages.welcome):
            text = build(settings, name).text
            assert "Hi" not in text and "evil" not in text and "555-0100" not in text
    # A name goes in where it costs no second segment: the welcome has room, the default
    # confirmation does not (it is CTIA-complete in 156 of 160 characters).
    assert (
        "Mary-Jane O'Neil"
        in messages.welcome(Settings(program_name="Acme"), "Mary-Jane O'Neil").text
    )
    assert "José" in messages.welcome(settings, "José").text
    assert "Ana" in messages.confirmation(Settings(program_name="Acme"), "Ana").text


def test_welcome_help_expired_texts() -> None:
    settings = Settings()
    assert messages.welcome(settings).text.startswith("You're subscribed to Acme Alerts.")
    assert messages.welcome(settings).text.endswith(
        "Reply STOP to cancel, HELP for help. https://example.com/sms"
    )
    help_text = messages.help_text(settings).text
    assert "support@example.com" in help_text and "STOP" in help_text
    assert messages.expired(settings).text == (
        "Acme Alerts: This request expired. Sign up again at https://example.com/sms"
    )
    assert "START" in messages.opted_out(settings).text


def test_every_message_carries_kind_and_version() -> None:
    settings = Settings(disclosure_version="v7")
    for build in (messages.disclosure, messages.help_text, messages.clarify):
        message = build(settings)
        assert message.version in ("v7", "v7+r2") and message.kind
        assert message.as_evidence()["text"] == message.text
        assert len(message.sha256) == 64


def test_resend_policy(clock) -> None:
    now = clock()
    check_resend(send_count=1, last_sent_at=None, now=now, cooldown_seconds=60, max_sends=3)
    with pytest.raises(ResendCooldown) as caught:
        clock.advance(59.2)
        check_resend(send_count=1, last_sent_at=now, now=clock(), cooldown_seconds=60, max_sends=3)
    assert caught.value.retry_after_seconds == 1
    clock.advance(1)
    check_resend(send_count=2, last_sent_at=now, now=clock(), cooldown_seconds=60, max_sends=3)
    with pytest.raises(ResendLimit):
        check_resend(send_count=3, last_sent_at=None, now=clock(), cooldown_seconds=0, max_sends=3)


def test_a_bad_privacy_url_is_named_in_the_config_error() -> None:
    with pytest.raises(ConfigError, match="PRIVACY_URL"):
        Settings.from_mapping({"PRIVACY_URL": "http://example.com/privacy"})


def test_the_template_passes_every_text_setting_and_keeps_the_privacy_url_https() -> None:
    import re
    from pathlib import Path

    from local.runtime.cfn_yaml import load_template

    template = load_template(Path(__file__).resolve().parents[3] / "template.yaml")
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    for name, parameter_name in (
        ("PROGRAM_NAME", "ProgramName"),
        ("TERMS_URL", "TermsUrl"),
        ("PRIVACY_URL", "PrivacyUrl"),
        ("SIGNUP_URL", "SignupUrl"),
    ):
        assert env[name] == {"Ref": parameter_name}, name
    parameter = template["Parameters"]["PrivacyUrl"]
    # The template's default is what the functions default to, and both are https.
    assert parameter["Default"] == Settings().privacy_url
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("https://example.com/privacy")
    for bad in ("http://example.com/privacy", "example.com", "https://a b", ""):
        assert not pattern.fullmatch(bad), bad


def test_send_brakes_have_defaults_and_are_read_from_the_environment() -> None:
    defaults = Settings.from_mapping({})
    assert defaults.max_confirmation_texts_per_day == 3
    assert defaults.max_price_per_message == "0.05"
    given = Settings.from_mapping(
        {"MAX_CONFIRMATION_TEXTS_PER_DAY": "5", "MAX_PRICE_PER_MESSAGE": "0.012"}
    )
    assert (given.max_confirmation_texts_per_day, given.max_price_per_message) == (5, "0.012")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MAX_CONFIRMATION_TEXTS_PER_DAY", "0"),
        ("MAX_CONFIRMATION_TEXTS_PER_DAY", "three"),
        ("MAX_PRICE_PER_MESSAGE", "5"),
        ("MAX_PRICE_PER_MESSAGE", "$0.05"),
        ("MAX_PRICE_PER_MESSAGE", "0.123456"),
    ],
)
def test_a_bad_send_brake_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_mapping({variable: value})
