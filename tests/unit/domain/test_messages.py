"""The texts: CTIA parts, names spelled in GSM-7 or left out, versions."""

from __future__ import annotations

import unicodedata

import pytest

from optin.domain import messages
from optin.domain.segments import segments
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


def test_versions_follow_each_text_s_revisions() -> None:
    settings = Settings(disclosure_version="v7")
    assert messages.disclosure(settings).version == "v7"  # the form sends it back as is
    versions = {message.kind: message.version for message in messages.sent_texts(settings)}
    assert versions == {
        "confirmation": "v7+r2",
        # Revision 2: the program name and the sign-up page in every reply with room.
        "welcome": "v7+r2",
        "opted_out": "v7+r2",
        "resubscribed": "v7+r2",
        "expired": "v7+r2",
        "clarify": "v7+r2",
        "help": "v7",
        "registration_closed": "v7",
    }


NO_ROOM_FOR_THE_SIGN_UP_PAGE = {"confirmation", "help"}


def test_every_reply_names_the_program_and_the_sign_up_page_where_it_has_room() -> None:
    settings = Settings(program_name="Birch Bakery", signup_url="https://birch.example/texts")
    for message in messages.sent_texts(settings, "Ana"):
        assert "Birch Bakery" in message.text, message.kind
        if message.kind in NO_ROOM_FOR_THE_SIGN_UP_PAGE:
            assert "https://birch.example/texts" not in message.text
        else:
            # At the end, with no full stop a phone could take into the link.
            assert message.text.endswith(" https://birch.example/texts"), message.kind


def test_the_two_texts_without_the_sign_up_page_would_need_a_second_part_with_it() -> None:
    """What docs/texts.md says: with the default settings the confirmation and the HELP
    answer have no room for the sign-up address."""
    settings = Settings()
    for message in messages.sent_texts(settings):
        if message.kind in NO_ROOM_FOR_THE_SIGN_UP_PAGE:
            assert segments(message.text) == 1
            assert segments(f"{message.text} {settings.signup_url}") == 2, message.kind


def test_a_name_gives_way_to_the_sign_up_page() -> None:
    settings = Settings()
    assert "Hi Ana! " in messages.welcome(settings, "Ana").text
    long_name = messages.welcome(settings, "Mary-Jane O'Neil").text
    assert "Mary-Jane" not in long_name and long_name.endswith(settings.signup_url)
    assert (
        "Hi Mary-Jane O'Neil! "
        in messages.welcome(Settings(program_name="Acme"), "Mary-Jane O'Neil").text
    )


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
