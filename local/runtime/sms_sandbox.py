"""The SMS sandbox: End User Messaging SMS's API on localhost, and the phones' side.

API (JSON protocol, X-Amz-Target PinpointSMSVoiceV2.*), with the request and error shapes of
botocore's service model: SendTextMessage, PutOptedOutNumber, DeleteOptedOutNumber and
CarrierLookup. Outbound texts are stored instead of sent.

Opt-outs are self-managed, as the deployed stack configures its number: a STOP texted in is
only published to the two-way topic; the function answers it and calls PutOptedOutNumber.
The sandbox has one number, so every opt-out list counts as associated with it: a text to a
number on any list is refused as AWS refuses it (ConflictException,
DESTINATION_PHONE_NUMBER_OPTED_OUT). Lists are created on first use, where AWS would answer
ResourceNotFoundException for a list the stack did not create.

CarrierLookup answers from the numbering plan (phonenumbers), except for the fictional
NANP lines +1 NPA 555-01XX, which answer by line so tests can choose:
    555-0180 .. 0189  LANDLINE
    555-0190 .. 0198  VOIP
    555-0199          INVALID
    any other         MOBILE (as is any other US/CA number: their plan cannot tell).

End User Messaging's brakes are honoured as AWS answers them, so the functions' code path
for each refusal runs locally too:
* a protect configuration associated with the configuration set a send names (the
  template's `ProtectConfigurationId` on `AWS::SMSVOICE::ConfigurationSet`, read by
  `protect_rules_from_template`): a destination whose country it BLOCKs is refused with
  ConflictException DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION. Countries without
  a rule are allowed, as AWS allows them; FILTER and MONITOR rules send (the sandbox has no
  risk scores to filter on).
* `MaxPrice`: checked against botocore's pattern, then against the sandbox's price for
  one message part to the destination's country (PRICE_PER_PART: illustrative figures,
  not AWS's price list); a dearer part is refused with ValidationException
  PRICE_OVER_THRESHOLD, and nothing is stored.

A person (the phone simulator page) or a test injects inbound texts; each is stored with a
pending delivery before it is acknowledged, then published to the two-way SNS topic as End
User Messaging would, so a kill between the two loses nothing.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import phonenumbers

from local.runtime import console
from local.runtime.cfn_yaml import load_template
from local.runtime.sqlite_db import Database
from local.runtime.template import ACCOUNT_ID, REGION, _Resolver

log = logging.getLogger("local.sms")

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
# Patterns of botocore's model (the service checks them; botocore checks only lengths).
_IDENTITY = re.compile(r"^[A-Za-z0-9_:/+-]{1,256}$")
_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9_:/-]{1,256}$")
_LOOKUP_INPUT = re.compile(r"^\+[({\s\[]?[1-9][0-9(){}\s\[\],.-]{1,38}$")
MAX_BODY = 1600
_MAX_PRICE = re.compile(r"^[0-9]{0,2}\.[0-9]{1,5}$")
# The sandbox's price of one message part, in US dollars, by destination country. In the
# range of AWS's (a US part is about half a cent plus carrier fees) but not its price list.
PRICE_PER_PART = {"US": Decimal("0.00883"), "CA": Decimal("0.00750")}
# Elsewhere: international routes, premium-rate ones above all, cost many times more.
OTHER_PRICE_PER_PART = Decimal("0.10")
# Keywords every End User Messaging number has registered (HELP, the required opt-out words,
# START/UNSTOP for toll-free resubscription); others count as free text.
REGISTERED_KEYWORDS = {
    "HELP",
    "ARRET",
    "CANCEL",
    "END",
    "OPT-OUT",
    "OPTOUT",
    "QUIT",
    "REMOVE",
    "STOP",
    "TD",
    "UNSUBSCRIBE",
    "STOPALL",
    "START",
    "UNSTOP",
}
# The number the sandbox texts from when the origination identity is an ARN or an id.
SANDBOX_NUMBER = "+12065550142"
RETRY_DELAYS = (1.0, 2.0, 5.0, 15.0, 60.0)
# Like SNS to Lambda: a message that keeps failing is given up on (and logged), not retried forever.
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL UNIQUE,
  direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  origination TEXT NOT NULL,
  destination TEXT NOT NULL,
  body TEXT NOT NULL,
  dedup_key TEXT UNIQUE,
  context TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_phone_out ON messages (destination, seq);
CREATE INDEX IF NOT EXISTS messages_by_phone_in ON messages (origination, seq);
CREATE TABLE IF NOT EXISTS opted_out_numbers (
  list_name TEXT NOT NULL,
  phone_number TEXT NOT NULL,
  opted_out_at REAL NOT NULL,
  PRIMARY KEY (list_name, phone_number)
);
CREATE TABLE IF NOT EXISTS deliveries (
  delivery_id INTEGER PRIMARY KEY AUTOINCREMENT,
  inbound_message_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at REAL NOT NULL,
  delivered_at TEXT,
  last_error TEXT
);
"""


class SandboxError(Exception):
    def __init__(self, code: str, message: str, status: int = 400, **modelled: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        # The error shape's members besides Message (Reason, Fields, ResourceType, …).
        self.modelled = modelled

    def body(self) -> dict[str, Any]:
        return {"__type": self.code, "Message": self.message, **self.modelled}


def _invalid(field: str, message: str, reason: str = "FIELD_VALIDATION_FAILED") -> SandboxError:
    return SandboxError(
        "ValidationException",
        message,
        Reason=reason,
        Fields=[{"Name": field, "Message": message}],
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_FICTIONAL_LINES = (
    (range(180, 190), "LANDLINE"),
    (range(190, 199), "VOIP"),
    (range(199, 200), "INVALID"),
)
_PLAN_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "MOBILE",
    # The US/CA plan cannot tell mobile from fixed: the sandbox answers MOBILE.
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "MOBILE",
    phonenumbers.PhoneNumberType.FIXED_LINE: "LANDLINE",
    phonenumbers.PhoneNumberType.VOIP: "VOIP",
}


def _line_type(parsed: phonenumbers.PhoneNumber) -> str:
    national = str(parsed.national_number)
    if parsed.country_code == 1 and len(national) == 10 and national[3:6] == "555":
        line = int(national[6:])
        if 100 <= line <= 199:
            return next((kind for lines, kind in _FICTIONAL_LINES if line in lines), "MOBILE")
    if not phonenumbers.is_valid_number(parsed):
        return "INVALID"
    return _PLAN_TYPES.get(phonenumbers.number_type(parsed), "OTHER")


def destination_country(destination: str) -> str | None:
    """The ISO region of an E.164 number: the numbering plan's, or, for a number the plan
    does not know, the main region of its country code."""
    try:
        parsed = phonenumbers.parse(destination)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(parsed)
    if region and region != "ZZ":
        return str(region)
    main = phonenumbers.region_code_for_country_code(parsed.country_code)
    return None if main == "ZZ" else str(main)


@dataclass(frozen=True)
class ProtectConfiguration:
    """A protect configuration's SMS country rules ({"US": "ALLOW", "FR": "BLOCK", …})."""

    protect_configuration_id: str
    sms_rules: Mapping[str, str]


ProtectRules = Mapping[str, ProtectConfiguration]


def protect_rules_from_template(
    template_path: Path, parameters: Mapping[str, str] | None = None
) -> dict[str, ProtectConfiguration]:
    """{configuration set name: its protect configuration} for every configuration set of
    the template associated with one of the template's protect configurations."""
    template = load_template(template_path)
    resolver = _Resolver(template, dict(parameters or {}))
    resources: dict[str, Any] = template.get("Resources", {})
    rules: dict[str, ProtectConfiguration] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::SMSVOICE::ConfigurationSet":
            continue
        if not resolver.exists(logical_id):
            continue
        ref = (resource.get("Properties") or {}).get("ProtectConfigurationId")
        target = ref.get("Fn::GetAtt") if isinstance(ref, dict) else None
        if isinstance(target, str):
            target = target.split(".", 1)
        if not target or resources.get(target[0], {}).get("Type") != (
            "AWS::SMSVOICE::ProtectConfiguration"
        ):
            continue
        props = resources[target[0]].get("Properties") or {}
        sms_rules = (props.get("CountryRuleSet") or {}).get("SMS") or []
        rules[resolver.physical_name(logical_id)] = ProtectConfiguration(
            # AWS makes up the id; locally the logical id stands in, as for other resources.
            target[0],
            {str(rule["CountryCode"]): str(rule["ProtectStatus"]) for rule in sms_rules},
        )
    return rules


def mask(phone: str) -> str:
    return phone[:5] + "***" + phone[-4:] if len(phone) > 9 else "***"


class SmsSandbox:
    def __init__(
        self,
        db_path: Path,
        default_origination: str,
        publish: Callable[[str], None],
        send_delay_seconds: float = 0.0,
        protect_rules: ProtectRules | None = None,
    ) -> None:
        self.db = Database(db_path, SCHEMA)
        self.protect_rules = dict(protect_rules or {})
        self.default_origination = default_origination
        # The number texts come from: the configured identity when it is a number.
        self.number = (
            default_origination if E164.match(default_origination or "") else SANDBOX_NUMBER
        )
        self.publish = publish
        self.send_delay_seconds = send_delay_seconds
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- End User Messaging SMS API (JSON protocol, X-Amz-Target PinpointSMSVoiceV2.*) ---

    def handle_api(self, operation: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        handlers: dict[str, Callable[[], dict[str, Any]]] = {
            "SendTextMessage": lambda: {"MessageId": self.send_text_message(request)},
            "PutOptedOutNumber": lambda: self.put_opted_out_number(request),
            "DeleteOptedOutNumber": lambda: self.delete_opted_out_number(request),
            "CarrierLookup": lambda: self.carrier_lookup(request),
        }
        handler = handlers.get(operation)
        if handler is None:
            return 400, {
                "__type": "ValidationException",
                "Message": f"The local SMS sandbox does not implement {operation}.",
                "Reason": "UNKNOWN_OPERATION",
            }
        try:
            return 200, handler()
        except SandboxError as error:
            return error.status, error.body()

    def send_text_message(self, request: dict[str, Any]) -> str:
        destination = request.get("DestinationPhoneNumber")
        body = request.get("MessageBody")
        if not isinstance(destination, str) or not E164.match(destination):
            raise _invalid(
                "DestinationPhoneNumber", "DestinationPhoneNumber must be an E.164 phone number."
            )
        if not isinstance(body, str) or not body.strip():
            raise _invalid("MessageBody", "MessageBody is required.", "MISSING_PARAMETER")
        if len(body) > MAX_BODY:
            raise _invalid(
                "MessageBody",
                f"MessageBody exceeds {MAX_BODY} characters.",
                "MAXIMUM_SIZE_EXCEEDED",
            )
        context = request.get("Context") or {}
        if not isinstance(context, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in context.items()
        ):
            raise _invalid("Context", "Context must be a map of strings.")
        identity = request.get("OriginationIdentity")
        if identity is not None and (
            not isinstance(identity, str) or not _IDENTITY.match(identity)
        ):
            raise _invalid("OriginationIdentity", "OriginationIdentity is not valid.")
        configuration_set = request.get("ConfigurationSetName")
        if configuration_set is not None and (
            not isinstance(configuration_set, str) or not _RESOURCE_NAME.match(configuration_set)
        ):
            raise _invalid("ConfigurationSetName", "ConfigurationSetName is not valid.")
        max_price = request.get("MaxPrice")
        if max_price is not None and (
            not isinstance(max_price, str) or not _MAX_PRICE.match(max_price)
        ):
            raise _invalid("MaxPrice", "MaxPrice is not valid.")
        self._apply_brakes(destination, configuration_set, max_price)
        # An ARN or id names the sandbox's own number.
        origination = identity if identity and E164.match(identity) else self.number
        dedup_key = context.get("dedupKey")
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            if dedup_key:
                # A Lambda re-run after a crash asks again: the text already went out once.
                row = conn.execute(
                    "SELECT message_id FROM messages WHERE dedup_key = ?", (dedup_key,)
                ).fetchone()
                if row:
                    log.info("duplicate send suppressed for %s", mask(destination))
                    return str(row["message_id"])
            if conn.execute(
                "SELECT 1 FROM opted_out_numbers WHERE phone_number = ? LIMIT 1", (destination,)
            ).fetchone():
                log.info("text to %s refused: on the opt-out list", mask(destination))
                raise SandboxError(
                    "ConflictException",
                    "The destination phone number is opted out.",
                    Reason="DESTINATION_PHONE_NUMBER_OPTED_OUT",
                    ResourceType="opted-out-number",
                    ResourceId=destination,
                )
            message_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO messages (message_id, direction, origination, destination, body,"
                " dedup_key, context, created_at) VALUES (?, 'outbound', ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    origination,
                    destination,
                    body,
                    dedup_key,
                    json.dumps(context),
                    _now(),
                ),
            )
        log.info("text to %s stored (%d chars)", mask(destination), len(body))
        console.text_sent(destination, dedup_key, body)
        if self.send_delay_seconds:
            # Widens the window between "sent" and "the caller knows", for the durability tests.
            time.sleep(self.send_delay_seconds)
        return message_id

    def _apply_brakes(
        self, destination: str, configuration_set: str | None, max_price: str | None
    ) -> None:
        """The protect configuration's country rules, then MaxPrice (refusals as AWS's)."""
        country = destination_country(destination)
        set_name = (configuration_set or "").rsplit("configuration-set/", 1)[-1]
        protect = self.protect_rules.get(set_name)
        if protect and country is not None and protect.sms_rules.get(country) == "BLOCK":
            log.info("text to %s refused: %s blocked by the protect configuration",
                     mask(destination), country)  # fmt: skip
            raise SandboxError(
                "ConflictException",
                "The destination country is blocked by the protect configuration.",
                Reason="DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION",
                ResourceType="protect-configuration",
                ResourceId=protect.protect_configuration_id,
            )
        if max_price is not None:
            price = PRICE_PER_PART.get(country or "", OTHER_PRICE_PER_PART)
            if price > Decimal(max_price):
                log.info("text to %s refused: %s per part is over MaxPrice %s",
                         mask(destination), price, max_price)  # fmt: skip
                raise SandboxError(
                    "ValidationException",
                    "The price of the message is over the MaxPrice given.",
                    Reason="PRICE_OVER_THRESHOLD",
                    Fields=[{"Name": "MaxPrice", "Message": f"The price is {price} per part."}],
                )

    # --- the opt-out list ---

    def _opt_out_request(self, request: dict[str, Any]) -> tuple[str, str]:
        name = request.get("OptOutListName")
        number = request.get("OptedOutNumber")
        if not isinstance(name, str) or not _RESOURCE_NAME.match(name):
            raise _invalid("OptOutListName", "OptOutListName is not valid.")
        if not isinstance(number, str) or not E164.match(number):
            raise _invalid("OptedOutNumber", "OptedOutNumber must be an E.164 phone number.")
        # An ARN names the list by its last part.
        return name.rsplit("opt-out-list/", 1)[-1], number

    def _opt_out_result(self, name: str, number: str, at: float) -> dict[str, Any]:
        return {
            "OptOutListArn": f"arn:aws:sms-voice:{REGION}:{ACCOUNT_ID}:opt-out-list/{name}",
            "OptOutListName": name,
            "OptedOutNumber": number,
            "OptedOutTimestamp": at,
            # True only when the person opted out by keyword and AWS recorded it.
            "EndUserOptedOut": False,
        }

    def put_opted_out_number(self, request: dict[str, Any]) -> dict[str, Any]:
        name, number = self._opt_out_request(request)
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT OR IGNORE INTO opted_out_numbers (list_name, phone_number, opted_out_at)"
                " VALUES (?, ?, ?)",
                (name, number, time.time()),
            )
            row = conn.execute(
                "SELECT opted_out_at FROM opted_out_numbers"
                " WHERE list_name = ? AND phone_number = ?",
                (name, number),
            ).fetchone()
        log.info("%s put on opt-out list %s", mask(number), name)
        return self._opt_out_result(name, number, float(row["opted_out_at"]))

    def delete_opted_out_number(self, request: dict[str, Any]) -> dict[str, Any]:
        name, number = self._opt_out_request(request)
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT opted_out_at FROM opted_out_numbers"
                " WHERE list_name = ? AND phone_number = ?",
                (name, number),
            ).fetchone()
            if row is None:
                raise SandboxError(
                    "ResourceNotFoundException",
                    "The opted out number was not found.",
                    ResourceType="opted-out-number",
                    ResourceId=number,
                )
            conn.execute(
                "DELETE FROM opted_out_numbers WHERE list_name = ? AND phone_number = ?",
                (name, number),
            )
        log.info("%s taken off opt-out list %s", mask(number), name)
        return self._opt_out_result(name, number, float(row["opted_out_at"]))

    def opted_out_numbers(self) -> list[dict[str, str]]:
        rows = self.db.connect().execute(
            "SELECT list_name, phone_number FROM opted_out_numbers ORDER BY opted_out_at"
        )
        return [{"optOutListName": r["list_name"], "phoneNumber": r["phone_number"]} for r in rows]

    # --- carrier lookup ---

    def carrier_lookup(self, request: dict[str, Any]) -> dict[str, Any]:
        raw = request.get("PhoneNumber")
        if not isinstance(raw, str) or not _LOOKUP_INPUT.match(raw):
            raise _invalid("PhoneNumber", "PhoneNumber must start with + and a country code.")
        try:
            parsed = phonenumbers.parse(raw)
        except phonenumbers.NumberParseException:
            raise _invalid(
                "PhoneNumber", "PhoneNumber could not be parsed.", "CANNOT_PARSE"
            ) from None
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        region = phonenumbers.region_code_for_number(parsed)
        line_type = _line_type(parsed)
        result: dict[str, Any] = {
            "E164PhoneNumber": e164,
            "DialingCountryCode": str(parsed.country_code),
            "PhoneNumberType": line_type,
            "OriginalPhoneNumber": raw,
        }
        if region and region != "ZZ":
            result["IsoCountryCode"] = region
        if line_type != "INVALID":
            result["Carrier"] = f"Sandbox {line_type.title()}"
        return result

    # --- the phones' side ---

    def inject_inbound(self, sender: Any, body: Any, destination: Any = None) -> str:
        if not isinstance(sender, str) or not E164.match(sender):
            raise SandboxError(
                "invalid_phone_number", "'from' must be an E.164 number, +12065550123."
            )
        if not isinstance(body, str) or not body.strip():
            raise SandboxError("invalid_body", "'body' must be a non-empty text.")
        if len(body) > MAX_BODY:
            raise SandboxError("invalid_body", f"'body' exceeds {MAX_BODY} characters.")
        to = destination if isinstance(destination, str) and destination else self.number
        inbound_id = str(uuid.uuid4())
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            previous = conn.execute(
                "SELECT message_id FROM messages WHERE direction = 'outbound' AND destination = ?"
                " ORDER BY seq DESC LIMIT 1",
                (sender,),
            ).fetchone()
            first_word = body.strip().split()[0].upper() if body.strip() else ""
            payload = {
                "originationNumber": sender,
                "destinationNumber": to,
                "messageKeyword": first_word if first_word in REGISTERED_KEYWORDS else "",
                "messageBody": body,
                "inboundMessageId": inbound_id,
                "previousPublishedMessageId": previous["message_id"] if previous else "",
            }
            conn.execute(
                "INSERT INTO messages (message_id, direction, origination, destination, body,"
                " created_at) VALUES (?, 'inbound', ?, ?, ?, ?)",
                (inbound_id, sender, to, body, _now()),
            )
            conn.execute(
                "INSERT INTO deliveries (inbound_message_id, payload, next_attempt_at)"
                " VALUES (?, ?, ?)",
                (inbound_id, json.dumps(payload), time.time()),
            )
        self._wake.set()
        console.reply_received(sender, body)
        return inbound_id

    def redeliver(self, inbound_id: str) -> None:
        """Publishes an inbound text again, as SNS's at-least-once delivery sometimes does."""
        conn = self.db.connect()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            row = conn.execute(
                "SELECT payload FROM deliveries WHERE inbound_message_id = ? LIMIT 1",
                (inbound_id,),
            ).fetchone()
            if row is None:
                raise SandboxError("not_found", f"No inbound message {inbound_id}.", 404)
            conn.execute(
                "INSERT INTO deliveries (inbound_message_id, payload, next_attempt_at)"
                " VALUES (?, ?, ?)",
                (inbound_id, row["payload"], time.time()),
            )
        self._wake.set()

    def messages(self, phone: str) -> list[dict[str, Any]]:
        rows = self.db.connect().execute(
            "SELECT * FROM messages WHERE destination = ? OR origination = ? ORDER BY seq",
            (phone, phone),
        )
        return [
            {
                "messageId": r["message_id"],
                "direction": r["direction"],
                "from": r["origination"],
                "to": r["destination"],
                "body": r["body"],
                "createdAt": r["created_at"],
            }
            for r in rows
        ]

    def conversations(self) -> list[dict[str, Any]]:
        # One query: the last message of each conversation joined by its primary key, where
        # a query per conversation made every poll of the simulator (and of the benchmarks)
        # cost the runtime a few milliseconds per hundred conversations.
        rows = (
            self.db.connect()
            .execute(
                """
            SELECT g.phone, g.n, m.body, m.created_at FROM (
              SELECT phone, COUNT(*) AS n, MAX(seq) AS last_seq FROM (
                SELECT seq, CASE direction WHEN 'outbound' THEN destination ELSE origination END
                  AS phone FROM messages)
              GROUP BY phone) AS g
            JOIN messages AS m ON m.seq = g.last_seq
            ORDER BY g.last_seq DESC
            """
            )
            .fetchall()
        )
        return [
            {
                "phoneNumber": r["phone"],
                "messageCount": r["n"],
                "lastMessageAt": r["created_at"],
                "lastBody": r["body"],
            }
            for r in rows
        ]

    # --- delivery of inbound texts to the two-way topic ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._deliver_loop, name="sms-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def pending_deliveries(self) -> int:
        row = (
            self.db.connect()
            .execute("SELECT COUNT(*) FROM deliveries WHERE delivered_at IS NULL")
            .fetchone()
        )
        return int(row[0])

    def _deliver_loop(self) -> None:
        while not self._stopping.is_set():
            # Cleared before looking, so a text injected meanwhile is never waited on.
            self._wake.clear()
            conn = self.db.connect()
            due = conn.execute(
                "SELECT delivery_id, inbound_message_id, payload, attempts FROM deliveries"
                " WHERE delivered_at IS NULL AND attempts < ? AND next_attempt_at <= ?"
                " ORDER BY delivery_id LIMIT 20",
                (MAX_ATTEMPTS, time.time()),
            ).fetchall()
            for row in due:
                self._deliver(row)
            if not due:
                upcoming = conn.execute(
                    "SELECT MIN(next_attempt_at) FROM deliveries"
                    " WHERE delivered_at IS NULL AND attempts < ?",
                    (MAX_ATTEMPTS,),
                ).fetchone()[0]
                wait = 1.0 if upcoming is None else max(0.0, min(1.0, upcoming - time.time()))
                self._wake.wait(wait)

    def _deliver(self, row: Any) -> None:
        conn = self.db.connect()
        inbound_id, attempts = row["inbound_message_id"], row["attempts"]
        try:
            self.publish(row["payload"])
        except Exception as error:
            delay = RETRY_DELAYS[min(attempts, len(RETRY_DELAYS) - 1)]
            if attempts + 1 >= MAX_ATTEMPTS:
                log.error("inbound %s undeliverable after %d attempts", inbound_id, MAX_ATTEMPTS)
            else:
                log.warning(
                    "delivery of inbound %s failed (%s); retry in %ss", inbound_id, error, delay
                )
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?,"
                " last_error = ? WHERE delivery_id = ?",
                (time.time() + delay, repr(error)[:500], row["delivery_id"]),
            )
            return
        conn.execute(
            "UPDATE deliveries SET attempts = attempts + 1, delivered_at = ? WHERE delivery_id = ?",
            (_now(), row["delivery_id"]),
        )
