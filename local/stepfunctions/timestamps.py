"""ISO-8601 timestamps as Step Functions reads and writes them (always UTC out)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# RFC 3339 profile: a 'T', seconds, optional fraction and a mandatory offset or Z.
_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware datetime, or None when value is not a valid timestamp string."""
    if not isinstance(value, str):
        return None
    m = _TS.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        micro = int((frac or "0")[:6].ljust(6, "0"))
        if tz in ("Z", "z"):
            tzinfo: timezone = UTC
        else:
            sign = 1 if tz[0] == "+" else -1
            tzinfo = timezone(sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])))
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tzinfo)
    except ValueError:
        return None


def iso(epoch: float) -> str:
    """Epoch seconds as the context object shows times: 2024-01-02T03:04:05.678Z."""
    dt = datetime.fromtimestamp(epoch, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
