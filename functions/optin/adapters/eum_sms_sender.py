"""SMS through AWS End User Messaging SMS (boto3 `pinpoint-sms-voice-v2`).

The client is created on first use, not at construction: building the dependencies stays
cheap for functions that never text, and boto3 reads AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2
from the environment of the invocation that first needs it (the local runtime points it
at its SMS sandbox).

Every error the service can return is classified from its code and modelled `Reason`
(botocore's service model, `pinpoint-sms-voice-v2` 2022-03-31), never from message text:

* `RecipientOptedOut`: the destination is on the opt-out list (ConflictException
  DESTINATION_PHONE_NUMBER_OPTED_OUT).
* `SendBlocked` (an `SmsRejected`): the account's own brakes refused this destination:
  its price is over `MaxPrice` (ValidationException PRICE_OVER_THRESHOLD), or the protect
  configuration blocks its country (ConflictException
  DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION).
* `SmsRejected`: about the destination number only: a ValidationException whose `Fields`
  name the destination, an operator's block on this one number, a number AWS will not opt
  back in. Only these may make a contact REJECTED.
* `SmsUnavailable`: throttling, a service fault (HTTP 5xx), the network: retry.
* `SmsConfigurationError`: everything else, because it is about the account, not the
  number: sandbox destination not verified, registration not complete, identity not valid
  for the country, missing resource, spending limit or quota, access denied, our own
  request malformed, and any code or reason this module does not know yet (a new reason
  must not turn a good number into a REJECTED contact).

Delivery failures (unreachable handset, carrier blocked) are not API errors: AWS reports
them later, through the configuration set's event destination.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from optin.adapters.lazy_client import LazyClient, session_client
from optin.domain.errors import (
    RecipientOptedOut,
    SmsConfigurationError,
    SmsError,
    SmsOutcomeUnknown,
    SmsRejected,
    SmsUnavailable,
)
from optin.domain.send_limits import COUNTRY_BLOCKED, PRICE_OVER_THRESHOLD, SendBlocked

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# botocore's MaxPrice pattern: US dollars, up to 2 digits, a point, 1 to 5 decimals.
MAX_PRICE = re.compile(r"^[0-9]{0,2}\.[0-9]{1,5}$")
_BLOCKED_REASONS = {
    "ValidationException": PRICE_OVER_THRESHOLD,
    "ConflictException": COUNTRY_BLOCKED,
}

# ValidationException reasons that say "this field's value is bad". They are about the
# destination only when `Fields` names the destination field; otherwise our request (a
# bug or a setting) is at fault.
_FIELD_REASONS = frozenset(
    {"FIELD_VALIDATION_FAILED", "CANNOT_PARSE", "INVALID_PARAMETER", "OTHER"}
)
# Reasons that are about the destination number whatever the fields say.
_NUMBER_REASONS = {
    "ConflictException": frozenset({"DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE"}),
    "ValidationException": frozenset(
        {"PHONE_NUMBER_CANNOT_BE_OPTED_IN", "CANNOT_ADD_OPTED_OUT_NUMBER"}
    ),
}
# botocore's own list of throttling codes (botocore.retries.standard), plus the service's.
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
# Client-side errors that no retry fixes: our request or our environment is wrong.
_CONFIGURATION_BOTOCORE_ERRORS = (
    ParamValidationError,
    NoCredentialsError,
    PartialCredentialsError,
    NoRegionError,
)


def classify_client_error(
    error: ClientError, operation: str, destination_fields: Iterable[str]
) -> SmsError:
    """The domain error for a service error, from its code, `Reason`, `Fields` and status."""
    response: Mapping[str, Any] = error.response
    details = response.get("Error", {})
    code = str(details.get("Code", ""))
    # botocore puts an error shape's modelled members (Reason, Fields, ResourceType) at the
    # top level of the parsed response.
    reason = str(response.get("Reason") or details.get("Reason") or "")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    resource = str(response.get("ResourceType") or "")
    message = " ".join(part for part in (f"{operation} failed:", code, reason, resource) if part)

    if code == "ConflictException" and reason == "DESTINATION_PHONE_NUMBER_OPTED_OUT":
        return RecipientOptedOut(message)
    if reason and _BLOCKED_REASONS.get(code) == reason:
        return SendBlocked(message, reason)
    if reason in _NUMBER_REASONS.get(code, ()):
        return SmsRejected(message)
    if code == "ValidationException" and (not reason or reason in _FIELD_REASONS):
        fields = {
            str(field.get("Name", ""))
            for field in response.get("Fields") or ()
            if isinstance(field, Mapping)
        }
        if fields and fields <= set(destination_fields):
            return SmsRejected(message)
    if code in _THROTTLING_CODES or code == "InternalServerException" or status >= 500:
        return SmsUnavailable(message)
    return SmsConfigurationError(message)


def classify_botocore_error(error: BotoCoreError, operation: str) -> SmsError:
    message = f"{operation} failed: {type(error).__name__}"
    if isinstance(error, _CONFIGURATION_BOTOCORE_ERRORS):
        return SmsConfigurationError(message)
    if isinstance(error, ReadTimeoutError):
        # The request went out and no answer came: AWS may have sent the text.
        return SmsOutcomeUnknown(message)
    # The connection failed before a request went out: nothing was sent.
    return SmsUnavailable(message)


def _not_on_the_list(error: ClientError) -> bool:
    # The service names the missing resource "opted-out-number"; only a missing list
    # ("opt-out-list") is a configuration problem.
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code == "ResourceNotFoundException" and error.response.get("ResourceType") != (
        "opt-out-list"
    )


# One attempt: the SDK would resend a SendTextMessage whose answer timed out, and AWS does
# not deduplicate. Step Functions and SNS retry whole steps, behind the store's send claim.
default_client_factory = session_client("pinpoint-sms-voice-v2", max_attempts=1)


class EumSmsSender:
    """SmsSender on End User Messaging: SendTextMessage, and the opt-out list that makes AWS
    itself refuse any later text to a number that texted STOP."""

    def __init__(
        self,
        origination_identity: str,
        client_factory: Callable[[], Any] = default_client_factory,
        *,
        configuration_set: str | None = None,
        opt_out_list: str | None = None,
        max_price: str | None = None,
    ) -> None:
        if max_price and not MAX_PRICE.match(max_price):
            # Caught here, not by the service on every send: the setting is wrong, not a text.
            raise SmsConfigurationError(
                f"MAX_PRICE_PER_MESSAGE must be US dollars like 0.05 (got {max_price!r})."
            )
        self._max_price = max_price or None
        self._origination_identity = origination_identity
        self._configuration_set = configuration_set or None
        self._opt_out_list = opt_out_list or None
        self._client = LazyClient(client_factory)

    def send(self, to: str, body: str, *, dedup_key: str) -> str:
        if not E164.match(to):
            # Refused before an API call (and its price): the service's own pattern even
            # lets a number without "+" through, to be read in whatever country it guesses.
            raise SmsRejected("SendTextMessage refused: the destination is not E.164.")
        request: dict[str, Any] = {
            "DestinationPhoneNumber": to,
            "OriginationIdentity": self._origination_identity,
            "MessageBody": body,
            "MessageType": "TRANSACTIONAL",
            # Logged to the event destination with the delivery events; AWS does not
            # deduplicate on it (the send claim in the contact store does).
            "Context": {"dedupKey": dedup_key},
        }
        if self._configuration_set:
            # The stack's protect configuration is associated with this set: its country
            # rules apply to every text sent through it.
            request["ConfigurationSetName"] = self._configuration_set
        if self._max_price:
            # The service refuses (PRICE_OVER_THRESHOLD) a text dearer than this, before
            # sending and billing it: a brake on premium-rate destinations.
            request["MaxPrice"] = self._max_price
        response = self._call("SendTextMessage", ("DestinationPhoneNumber",), request)
        return str(response["MessageId"])

    def opt_out(self, phone_number: str) -> None:
        """PutOptedOutNumber: from now on AWS refuses to text the number (an existing entry
        is simply kept)."""
        self._call(
            "PutOptedOutNumber",
            ("OptedOutNumber",),
            {"OptOutListName": self._list(), "OptedOutNumber": phone_number},
        )

    def opt_in(self, phone_number: str) -> None:
        """DeleteOptedOutNumber; a number that is not on the list is already opted in."""
        self._call(
            "DeleteOptedOutNumber",
            ("OptedOutNumber",),
            {"OptOutListName": self._list(), "OptedOutNumber": phone_number},
            tolerate=_not_on_the_list,
        )

    def _list(self) -> str:
        if not self._opt_out_list:
            raise SmsConfigurationError("No opt-out list is configured (OPT_OUT_LIST_NAME).")
        return self._opt_out_list

    def _call(
        self,
        operation: str,
        destination_fields: Iterable[str],
        request: dict[str, Any],
        tolerate: Callable[[ClientError], bool] | None = None,
    ) -> dict[str, Any]:
        method = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
        try:
            return dict(getattr(self._client(), method)(**request))
        except ClientError as error:
            if tolerate is not None and tolerate(error):
                return {}
            raise classify_client_error(error, operation, destination_fields) from error
        except BotoCoreError as error:
            raise classify_botocore_error(error, operation) from error
