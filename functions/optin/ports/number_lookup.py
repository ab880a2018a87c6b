"""Number lookup port: what kind of line a number is, where the numbering plan cannot tell
(US and CA numbers are not split into mobile and landline ranges)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class LineType(StrEnum):
    MOBILE = "MOBILE"  # including prepaid mobile
    LANDLINE = "LANDLINE"
    VOIP = "VOIP"
    INVALID = "INVALID"  # the carrier data says no such number is in service
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class LineInfo:
    phone_number: str  # E.164, as the service normalised it
    line_type: LineType
    carrier: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2

    def as_dict(self) -> dict[str, str | None]:
        """The shape to cache with the contact and to record as validation evidence."""
        return {
            "phoneNumber": self.phone_number,
            "lineType": self.line_type.value,
            "carrier": self.carrier,
            "country": self.country,
        }


class NumberLookup(Protocol):
    def lookup(self, e164: str) -> LineInfo:
        """Line type, carrier and country of an E.164 number. A number the service cannot
        parse comes back as LineType.INVALID, not an error. Raises SmsUnavailable (retry, or
        go on without the lookup) or SmsConfigurationError (an operator must act)."""
        ...
