from __future__ import annotations

import pytest

from optin.domain.keywords import AWS_REQUIRED_OPT_OUT_KEYWORDS, Intent, classify, normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" YES ", "yes"),
        ("Yes.", "yes"),
        ("👍 yes", "yes"),
        ("no,  not   yes!", "no not yes"),
        ("Opt-Out", "opt out"),
        ("OPT-OUT", "opt out"),
        ("Arrêt", "arret"),
        ("ＳＴＯＰ", "stop"),
        ("Sí", "si"),
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
        "OPT-OUT",
        "ARRET",
        "Arrêt",
        "remove",
        "TD",
        "Unsubscribe all",
        "STOP texting me",
        "stop it",
        "Opt out please",
        "END.",
    ],
)
def test_opt_out_words(text: str) -> None:
    assert classify(text) == Intent.OPT_OUT


def test_aws_requires_exactly_these_opt_out_words() -> None:
    # End User Messaging SMS User Guide, "Required opt-out keywords" (read 2026-11).
    assert set(AWS_REQUIRED_OPT_OUT_KEYWORDS) == {
        "ARRET",
        "CANCEL",
        "END",
        "OPT-OUT",
        "OPTOUT",
        "QUIT",
        "REMOVE",
        "STOP",
        "TD",
        "UNSUBSCRIBE",
    }


@pytest.mark.parametrize("word", AWS_REQUIRED_OPT_OUT_KEYWORDS)
def test_every_required_opt_out_word_opts_out_however_typed(word: str) -> None:
    for text in (word, word.lower(), word.title(), f" {word}! ", f"{word} now"):
        assert classify(text) == Intent.OPT_OUT, text
    # Opt-out wins over a confirm list that happens to contain the word.
    assert classify(word, (word,)) == Intent.OPT_OUT


@pytest.mark.parametrize("text", ["HELP", "help?", "INFO", "Info.", " Help! "])
def test_help_words(text: str) -> None:
    assert classify(text) == Intent.HELP


@pytest.mark.parametrize("text", ["START", "start", "UNSTOP", "Unstop!", "Start."])
def test_opt_in_words(text: str) -> None:
    assert classify(text) == Intent.OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "please stop",
        "don't stop",
        "nonstop",
        "stopped",
        "help me out",
        "start again",
        "unstop please",
        "yes stop",
        "trend",
        "tdd",
        "ending",
    ],
)
def test_keywords_match_whole_words_and_only_opt_out_on_a_prefix(text: str) -> None:
    assert classify(text) == Intent.OTHER


def test_confirm_words_are_configurable() -> None:
    assert classify("si", ("SI", "OUI")) == Intent.CONFIRM
    assert classify("yes", ("SI", "OUI")) == Intent.OTHER
    # Opt-out always wins, whatever the confirm list says.
    assert classify("stop", ("STOP",)) == Intent.OPT_OUT
