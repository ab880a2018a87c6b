"""Resend policy: a cooldown between confirmation texts and a cap per registration.

Both protect the person (no text bombing through the sign-up form) and our sender
reputation with carriers.
"""

from __future__ import annotations

import math
from datetime import datetime

from optin.domain.errors import ResendCooldown, ResendLimit


def check_resend(
    *,
    send_count: int,
    last_sent_at: datetime | None,
    now: datetime,
    cooldown_seconds: int,
    max_sends: int,
) -> None:
    """Raise ResendLimit or ResendCooldown when another confirmation text may not go out.

    The limit is checked first: once reached, waiting does not help, so say so.
    """
    if send_count >= max_sends:
        raise ResendLimit(
            f"We already sent the confirmation text {send_count} times. Reply YES to the "
            "last one, or wait for it to expire and sign up again."
        )
    if last_sent_at is not None:
        elapsed = (now - last_sent_at).total_seconds()
        if elapsed < cooldown_seconds:
            wait = max(1, math.ceil(cooldown_seconds - elapsed))
            raise ResendCooldown(
                f"We just sent the confirmation text. Please wait {wait} seconds before "
                "asking for it again.",
                retry_after_seconds=wait,
            )
