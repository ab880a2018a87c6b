"""How many SMS segments (billed message parts) a text costs.

One SMS carries 140 bytes: 160 characters of the GSM 03.38 7-bit alphabet, or 70 UTF-16
code units when any character is outside it (UCS-2). A longer text is split into parts
that each lose room to the concatenation header: 153 septets (GSM-7) or 67 code units
(UCS-2). A GSM-7 extension character (€, [, ], {, }, \\, ^, ~, |, form feed) takes two
septets, and neither it nor a UTF-16 surrogate pair is split across parts, so a part can
hold one unit fewer than its maximum. End User Messaging picks the most compact encoding
by itself and bills each part.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

# 3GPP TS 23.038 default alphabet (the escape code 0x1B is not a character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Its extension table: each is sent as ESC + a septet.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Letters the NFKD decomposition does not reduce to GSM-7, with their usual Latin spelling.
_LATIN_FALLBACKS = {
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ð": "D",
    "ð": "d",
    "Þ": "Th",
    "þ": "th",
    "Œ": "OE",
    "œ": "oe",
    "ı": "i",
    "ŀ": "l",
    "Ŀ": "L",
    "’": "'",
    "‘": "'",
    "ʼ": "'",
}


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentCount:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def _units(text: str, encoding: Encoding) -> list[int]:
    if encoding is Encoding.GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def count(text: str) -> SegmentCount:
    encoding = Encoding.GSM7 if is_gsm7(text) else Encoding.UCS2
    sizes = _units(text, encoding)
    total = sum(sizes)
    single, part = (
        (GSM7_SINGLE, GSM7_PART) if encoding is Encoding.GSM7 else (UCS2_SINGLE, UCS2_PART)
    )
    if total <= single:
        return SegmentCount(encoding, total, 1 if text else 0)
    segments, used = 1, 0
    for size in sizes:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return SegmentCount(encoding, total, segments)


def segments(text: str) -> int:
    return count(text).segments


def to_gsm7(text: str) -> str | None:
    """The text spelled in the GSM-7 basic alphabet ('Zoë' -> 'Zoe', 'Łukasz' -> 'Lukasz',
    'José' stays), or None when a character has no such spelling ('李', 'Σοφία'): a name
    half transliterated is worse than none."""
    out: list[str] = []
    for char in text:
        if char in GSM7_BASIC:
            out.append(char)
            continue
        if char in _LATIN_FALLBACKS:
            out.append(_LATIN_FALLBACKS[char])
            continue
        # Drop the accents: 'ë' -> 'e' + U+0308 -> 'e'.
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if base and all(c in GSM7_BASIC for c in base):
            out.append(base)
            continue
        return None
    return "".join(out)
