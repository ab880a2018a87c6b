"""SMS sender port: texts, and the service's own opt-out list.

One opt-out model everywhere: our function answers STOP/HELP itself (self-managed
opt-outs), and STOP also puts the number on the service's opt-out list so the service
refuses any later text to it; START/UNSTOP takes it off.

Errors (optin.domain.errors), the same for every method:
* RecipientOptedOut (an SmsRejected): the number is on the opt-out list.
* SmsRejected: about this destination number only; retrying never helps.
* SmsUnavailable: throttling, service fault, network; worth a retry.
* SmsConfigurationError: the account or its configuration refuses, whatever the number
  (sandbox destination not verified, registration incomplete, missing resource, spending
  limit, access denied); an operator must act.
"""

from __future__ import annotations

from typing import Protocol


class SmsSender(Protocol):
    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        """Send `body` to the E.164 number `to`; return the message id.

        `dedup_key` names the message. It travels as Context.dedupKey; the local SMS sandbox
        and the fake send nothing for a key they have seen, End User Messaging does not
        deduplicate on it (a send claim in the contact store must). A destination that is
        not E.164 raises SmsRejected; one on the opt-out list, RecipientOptedOut.
        """
        ...

    def opt_out(self, phone_number: str) -> None:
        """Put the number on the opt-out list (already there: nothing changes)."""
        ...

    def opt_in(self, phone_number: str) -> None:
        """Take the number off the opt-out list (not there: nothing changes). SmsRejected
        when the service will not take this number off (AWS allows one removal per number
        every 30 days)."""
        ...
