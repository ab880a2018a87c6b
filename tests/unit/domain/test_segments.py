"""SMS segment counting (GSM-7 160/153 with the extension table, UCS-2 70/67), and that
every text we send costs one segment with the default settings, whatever the name."""

from __future__ import annotations

import pytest

from optin.domain import messages
from optin.domain.segments import Encoding, count, is_gsm7, segments, to_gsm7
from optin.domain.settings import Settings


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("", Encoding.GSM7, 0, 0),
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        ("€" * 80, Encoding.GSM7, 160, 1),  # extension characters take two septets
        ("€" * 81, Encoding.GSM7, 162, 2),  # 76 in part 1: an escape pair is never split
        ("a" * 159 + "[", Encoding.GSM7, 161, 2),
        ("a" * 152 + "^" + "a" * 10, Encoding.GSM7, 164, 2),
        ("a" * 152 + "^" + "a" * 152, Encoding.GSM7, 306, 3),  # the pair moves to part 2
        ("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà", Encoding.GSM7, 42, 1),
        ("ë", Encoding.UCS2, 1, 1),
        ("ç", Encoding.UCS2, 1, 1),  # GSM-7 has only the capital Ç
        ("a" * 69 + "ë", Encoding.UCS2, 70, 1),
        ("a" * 70 + "ë", Encoding.UCS2, 71, 2),
        ("a" * 133 + "ë", Encoding.UCS2, 134, 2),
        ("a" * 134 + "ë", Encoding.UCS2, 135, 3),
        ("👍" * 35, Encoding.UCS2, 70, 1),  # a surrogate pair is two code units
        ("a" + "👍" * 34 + "b", Encoding.UCS2, 70, 1),
        ("a" * 66 + "👍" * 2, Encoding.UCS2, 70, 1),
        ("a" * 66 + "👍" + "a" * 66, Encoding.UCS2, 134, 3),  # the pair moves to part 2
        ("李", Encoding.UCS2, 1, 1),
    ],
)
def test_count(text: str, encoding: Encoding, units: int, parts: int) -> None:
    counted = count(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, parts)
    assert segments(text) == parts


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2() -> None:
    text = "a" * 100
    assert segments(text) == 1
    assert segments(text + "’") == 2  # a typographic apostrophe: 101 UCS-2 units
    assert segments(text + "'") == 1


@pytest.mark.parametrize(
    ("name", "spelled"),
    [
        ("Ana", "Ana"),
        ("José", "José"),  # é is GSM-7
        ("Zoë", "Zoe"),
        ("Łukasz", "Lukasz"),
        ("François", "Francois"),
        ("Søren", "Søren"),
        ("Þóra", "Thora"),
        ("Œdipe", "OEdipe"),
        ("O’Neil", "O'Neil"),
        ("Dvořák", "Dvorak"),
        ("Nguyễn", "Nguyen"),
        ("李", None),
        ("Σοφία", None),
        ("Ольга", None),
        ("Zoë 李", None),  # half a name is worse than none
    ],
)
def test_to_gsm7(name: str, spelled: str | None) -> None:
    assert to_gsm7(name) == spelled
    if spelled is not None:
        assert is_gsm7(spelled)


NAMES = [None, "Ana", "Zoë", "Łukasz", "李", "José", "Mary-Jane O’Neil", "A" * 40, "Ж" * 50]


@pytest.mark.parametrize("name", NAMES)
def test_every_default_text_is_one_gsm7_segment_whatever_the_name(name: str | None) -> None:
    for message in messages.sent_texts(Settings(), name):
        counted = count(message.text)
        assert counted.encoding is Encoding.GSM7, (message.kind, message.text)
        assert counted.segments == 1, (message.kind, counted.units, message.text)


def test_the_confirmation_was_two_segments_and_is_one() -> None:
    text = messages.confirmation(Settings()).text
    assert count(text).units <= 160
    assert segments(text) == 1


def test_segment_counts_for_the_operator() -> None:
    assert {kind: c.segments for kind, c in messages.segment_counts(Settings()).items()} == {
        "confirmation": 1,
        "welcome": 1,
        "help": 1,
        "opted_out": 1,
        "resubscribed": 1,
        "expired": 1,
        "registration_closed": 1,
        "clarify": 1,
    }
    long_name = Settings(program_name="Acme Alerts and Weekly Neighbourhood Deals")
    assert messages.segment_counts(long_name)["confirmation"].segments == 2
    accented = Settings(program_name="Café Ünïcorn")
    assert messages.segment_counts(accented)["help"].encoding is Encoding.UCS2
