"""In-memory number lookup: answers as the local SMS sandbox's CarrierLookup does (the
fictional lines +1 NPA 555-0180..0189 LANDLINE, 0190..0198 VOIP, 0199 INVALID, every
other number MOBILE), or what a test sets per number; counts calls so a test can prove the
answer was cached."""

from __future__ import annotations

import threading

import phonenumbers

from optin.domain.errors import SmsError
from optin.ports.number_lookup import LineInfo, LineType

_FICTIONAL = ((range(180, 190), LineType.LANDLINE), (range(190, 199), LineType.VOIP))


def sandbox_line_type(e164: str) -> LineType:
    if e164.startswith("+1") and len(e164) == 12 and e164[5:8] == "555":
        line = int(e164[8:])
        if line == 199:
            return LineType.INVALID
        for lines, line_type in _FICTIONAL:
            if line in lines:
                return line_type
    return LineType.MOBILE


class MemoryNumberLookup:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.answers: dict[str, LineInfo] = {}
        self.calls: list[str] = []
        self.fail_with: SmsError | None = None

    def lookup(self, e164: str) -> LineInfo:
        with self._lock:
            self.calls.append(e164)
            if self.fail_with is not None:
                raise self.fail_with
            if e164 in self.answers:
                return self.answers[e164]
            line_type = sandbox_line_type(e164)
            carrier = None if line_type is LineType.INVALID else f"Sandbox {line_type.title()}"
            region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
            country = region if region and region != "ZZ" else None
            return LineInfo(e164, line_type, carrier, country)
