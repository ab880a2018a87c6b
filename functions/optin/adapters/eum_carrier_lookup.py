"""Number lookup through End User Messaging's CarrierLookup (boto3 `pinpoint-sms-voice-v2`).

Each call is billed (see docs/costs.md): the caller switches it on with the CarrierLookup
parameter and caches the answer per number. Errors are classified as for SendTextMessage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.eum_sms_sender import (
    classify_botocore_error,
    classify_client_error,
    default_client_factory,
)
from optin.adapters.lazy_client import LazyClient
from optin.domain.errors import SmsRejected
from optin.ports.number_lookup import LineInfo, LineType

# CarrierLookupResult.PhoneNumberType (MOBILE | LANDLINE | VOIP | PREPAID | OTHER | INVALID).
_LINE_TYPES = {
    "MOBILE": LineType.MOBILE,
    "PREPAID": LineType.MOBILE,
    "LANDLINE": LineType.LANDLINE,
    "VOIP": LineType.VOIP,
    "INVALID": LineType.INVALID,
}


class EumCarrierLookup:
    def __init__(self, client_factory: Callable[[], Any] = default_client_factory) -> None:
        self._client = LazyClient(client_factory)

    def lookup(self, e164: str) -> LineInfo:
        try:
            response = self._client().carrier_lookup(PhoneNumber=e164)
        except ClientError as error:
            classified = classify_client_error(error, "CarrierLookup", ("PhoneNumber",))
            if type(classified) is SmsRejected:
                # The service could not read the number: that is the answer, not a failure.
                return LineInfo(e164, LineType.INVALID)
            raise classified from error
        except BotoCoreError as error:
            raise classify_botocore_error(error, "CarrierLookup") from error
        return LineInfo(
            phone_number=str(response.get("E164PhoneNumber") or e164),
            line_type=_LINE_TYPES.get(str(response.get("PhoneNumberType")), LineType.UNKNOWN),
            carrier=response.get("Carrier") or None,
            country=response.get("IsoCountryCode") or None,
        )
