"""The texts: CTIA parts, names spelled in GSM-7 or left out, versions."""

from __future__ import annotations

import unicodedata

import pytest

from optin.domain import messages
from optin.domain.settings import Settings


def test_confirmation_is_ctia_complete_in_one_segment() -> None:
    settings = Settings()
    text = messages.confirmation(settings).text
    assert text == (
        "Acme Alerts: Reply YES to confirm texts. Up to 4 msgs/month. "
        "Msg & data rates may apply. HELP for help, STOP to cancel. "
        "Terms: https://example.com/sms-terms"
    )
    for part in (
        settings.program_name,
        "Reply YES",
        settings.message_frequency,
        "Msg & data rates may apply.",
        "HELP for help",
        "STOP to cancel",
        settings.terms_url,
    ):
        assert part in text


def test_a_name_goes_in_only_when_it_costs_no_extra_part() -> None:
    short = Settings(program_name="Acme")
    assert "Hi Zoe! " in messages.confirmation(short, "Zoë").text
    assert "Hi Lukasz! " in messages.confirmation(short, "Łukasz").text
    assert "Hi " not in messages.confirmation(short, "李").text
    # With the default program name the confirmation has no room for "Hi Ana! ".
    assert "Hi" not in messages.confirmation(Settings(), "Ana").text
    assert "Hi Ana! " in messages.welcome(Settings(), "Ana").text
    assert "Hi " not in messages.welcome(Settings(), "A" * 40).text


def test_unsafe_names_never_reach_a_text() -> None:
    settings = Settings(program_name="Acme")
    for name in ("http://evil.example", "Call 555-0100", "a" * 51, "  ", "<b>", "{greeting}"):
        assert "Hi" not in messages.confirmation(settings, name).text
        assert "Hi" not in messages.welcome(settings, name).text


def test_braces_in_settings_are_text_not_placeholders() -> None:
    settings = Settings(program_name="Acme {x}", terms_url="https://example.com/{terms}")
    text = messages.confirmation(settings, "Ana").text
    assert text.startswith("Acme {x}: ")
    assert text.endswith("https://example.com/{terms}")


def test_versions_the_confirmation_is_revision_2_the_others_unchanged() -> None:
    settings = Settings(disclosure_version="v7")
    assert messages.confirmation(settings).version == "v7+r2"
    assert messages.disclosure(settings).version == "v7"  # the form sends it back as is
    for message in messages.sent_texts(settings):
        if message.kind != "confirmation":
            assert message.version == "v7", message.kind


def test_the_closed_registration_reply_names_the_program_and_the_sign_up_page() -> None:
    settings = Settings(program_name="Acme Alerts", signup_url="https://example.com/sms")
    message = messages.registration_closed(settings)
    assert message.kind == "registration_closed"
    assert message.text.startswith("Acme Alerts: ")
    assert "no longer open" in message.text
    assert message.text.endswith("Sign up again at https://example.com/sms")
    # Another program's settings make another text: nothing is hard-coded.
    other = messages.registration_closed(Settings(program_name="Zed", signup_url="https://z.io"))
    assert other.text.startswith("Zed: ") and other.text.endswith("https://z.io")


@pytest.mark.parametrize(
    "name",
    [
        "J.R.",
        "Mary-Ann O'Neil",
        "Mary-Ann O’Neil",
        "José",
        "Nguyễn",
        "St. John",
        "Anne-Marie",
        "अंजलि",
        "李",
        "Zoë",
        "A.J. de la Cruz",
    ],
)
def test_real_names_pass_the_name_rule(name: str) -> None:
    assert messages.is_safe_first_name(name)
    assert messages.is_safe_first_name(unicodedata.normalize("NFD", name))


@pytest.mark.parametrize(
    "name",
    [
        "evil.example",
        "Visit x.co now",
        "bit.ly",
        ".J",
        "J..R",
        "R2-D2",
        "Ana!",
        "a@b",
        "<b>",
        "http://x",
        "-",
        "'.'",
        " ",
        "",
        "a" * 51,
        "Call 555-0100",
        "\u0301a",
    ],
)
def test_links_digits_and_symbols_fail_the_name_rule(name: str) -> None:
    assert not messages.is_safe_first_name(name)


def test_initials_are_greeted_and_a_decomposed_name_is_spelled_composed() -> None:
    short = Settings(program_name="Acme")
    assert "Hi J.R.! " in messages.welcome(short, "J.R.").text
    decomposed = unicodedata.normalize("NFD", "José")
    assert "Hi José! " in messages.welcome(short, decomposed).text


def test_the_name_rule_is_in_plain_words() -> None:
    rule = messages.FIRST_NAME_RULE
    assert rule.startswith("Your first name") and "J.R." in rule
    assert str(messages.FIRST_NAME_MAX_LENGTH) in rule
