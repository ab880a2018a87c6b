from __future__ import annotations

import pytest

from optin.domain.keywords import Intent, classify, normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" YES ", "yes"),
        ("Yes.", "yes"),
        ("👍 yes", "yes"),
        ("no,  not   yes!", "no not yes"),
        ("Opt-Out", "opt out"),
        ("\tSTOP\n", "stop"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise(text: str | None, expected: str) -> None:
    assert normalise(text) == expected


@pytest.mark.parametrize(
    "text", ["yes!", " YES ", "Yes.", "Y", "👍 yes", "yeah", "Yep", "ok", "CONFIRM", "y."]
)
def test_confirm_words_confirm(text: str) -> None:
    assert classify(text) == Intent.CONFIRM


@pytest.mark.parametrize(
    "text",
    ["eyes", "no, not yes", "yes and no", "yes please no", "yess", "yes yes", "no", "", "🙂"],
)
def test_anything_else_does_not_confirm(text: str) -> None:
    assert classify(text) != Intent.CONFIRM


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        "STOPALL",
        "stop all",
        "UNSUBSCRIBE",
        "cancel",
        "END",
        "quit",
        "REVOKE",
        "OPTOUT",
        "opt out",
        "Opt-out",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert classify(text) == Intent.OPT_OUT


@pytest.mark.parametrize("text", ["HELP", "help?", "INFO", "Info."])
def test_help_words(text: str) -> None:
    assert classify(text) == Intent.HELP


@pytest.mark.parametrize("text", ["START", "start", "UNSTOP", "Unstop!"])
def test_opt_in_words(text: str) -> None:
    assert classify(text) == Intent.OPT_IN


@pytest.mark.parametrize("text", ["please stop", "stop it", "don't stop", "help me out"])
def test_keywords_match_the_whole_message_only(text: str) -> None:
    assert classify(text) == Intent.OTHER


def test_confirm_words_are_configurable() -> None:
    assert classify("si", ("SI", "OUI")) == Intent.CONFIRM
    assert classify("yes", ("SI", "OUI")) == Intent.OTHER
    # Opt-out always wins, whatever the confirm list says.
    assert classify("stop", ("STOP",)) == Intent.OPT_OUT
