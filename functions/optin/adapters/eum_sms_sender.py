"""SMS through AWS End User Messaging SMS (boto3 `pinpoint-sms-voice-v2`).

The client is created on first use, not at construction: building the dependencies stays
cheap for functions that never text, and boto3 reads AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2
from the environment of the invocation that first needs it (the local runtime points it
at its SMS sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.errors import RecipientOptedOut, SmsRejected, SmsUnavailable

# ConflictException reasons that mean "never going to work for this number".
_OPTED_OUT_REASONS = frozenset({"DESTINATION_PHONE_NUMBER_OPTED_OUT"})
_PERMANENT_ERRORS = frozenset(
    {"ValidationException", "ConflictException", "ResourceNotFoundException"}
)


default_client_factory = session_client("pinpoint-sms-voice-v2")


class EumSmsSender:
    def __init__(
        self,
        origination_identity: str,
        client_factory: Callable[[], Any] = default_client_factory,
    ) -> None:
        self._origination_identity = origination_identity
        self._client = LazyClient(client_factory)

    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        try:
            response = self._client().send_text_message(
                DestinationPhoneNumber=to,
                OriginationIdentity=self._origination_identity,
                MessageBody=body,
                MessageType="TRANSACTIONAL",
                Context={"dedupKey": dedup_key},
            )
        except ClientError as error:
            details = error.response.get("Error", {})
            code = details.get("Code", "")
            reason = error.response.get("Reason") or details.get("Reason") or ""
            message = f"SendTextMessage failed: {code} {reason}".strip()
            if reason in _OPTED_OUT_REASONS:
                raise RecipientOptedOut(message) from error
            if code in _PERMANENT_ERRORS:
                raise SmsRejected(message) from error
            raise SmsUnavailable(message) from error
        except BotoCoreError as error:
            raise SmsUnavailable(f"SendTextMessage failed: {type(error).__name__}") from error
        return str(response["MessageId"])
