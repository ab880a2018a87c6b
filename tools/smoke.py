"""make smoke: one sign-up against a deployed stack, reported step by step.

    python tools/smoke.py --stack-name sms-optin [--region us-east-1]
    python tools/smoke.py --api-url https://…/Prod [--state-machine-arn ARN]

It signs up AWS's SMS simulator destination number +14254147755 (United States, "success":
End User Messaging keeps texts to it inside AWS and emits success events, docs/deploy.md and
https://docs.aws.amazon.com/sms-voice/latest/userguide/test-phone-numbers.html). A simulator
origination number (the stack's default PhoneNumberType) can text only simulator numbers of
its own country, and those need no sandbox verification, so this costs no carrier fees and
reaches nobody. Then it checks what it can observe: the API, the disclosure, the 202, the
sign-up's status, the execution waiting at SendConfirmation, the confirmation text's message
id in the ledger (DynamoDB) and its delivery event (CloudWatch Logs).

The simulator cannot reply, so the YES path is not run: the script prints what a person
checks by hand. Every ✗ makes the exit code 1. Phone numbers are printed masked.

--sfn-endpoint, --dynamodb-endpoint and --state-machine-arn are for testing against the
local runtime (`python -m local`), which serves the API and Step Functions on one port.
Uses boto3 and the standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SIMULATOR_SUCCESS = "+14254147755"
USER_AGENT = "sms-optin-smoke/1"
OK, FAIL, SKIP = "✓", "✗", "–"


def mask(number: str) -> str:
    """+1206***0100, as optin.domain.phone.mask prints NANP numbers (country code 1)."""
    digits = re.sub(r"\D", "", number)
    if len(digits) < 8:
        return "***"
    return f"+{digits[:4]}***{digits[-4:]}"


class ApiDown(Exception):
    """No HTTP answer at all: refused, unresolvable, timed out."""


@dataclass
class Report:
    lines: list[tuple[str, str, str]] = field(default_factory=list)
    out: Callable[[str], None] = print

    def add(self, mark: str, name: str, detail: str = "") -> None:
        self.lines.append((mark, name, detail))
        self.out(f"{mark} {name}" + (f": {detail}" if detail else ""))

    @property
    def failed(self) -> bool:
        return any(mark == FAIL for mark, _, _ in self.lines)


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        raise ApiDown(str(getattr(error, "reason", error))) from error
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")[:200]


def error_code(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('code') or '?'} ({error.get('message') or 'no message'})"
    return "no error code in the answer"


@dataclass
class Target:
    api_url: str
    state_machine_arn: str | None = None
    table: str | None = None
    events_log_group: str | None = None
    topic_arn: str | None = None


@dataclass
class Clients:
    """boto3 clients, made on first use (an --api-url run may never need one)."""

    region: str
    sfn_endpoint: str | None = None
    dynamodb_endpoint: str | None = None
    made: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        if service not in self.made:
            import boto3

            endpoint = {"stepfunctions": self.sfn_endpoint, "dynamodb": self.dynamodb_endpoint}
            self.made[service] = boto3.session.Session().client(
                service, region_name=self.region, endpoint_url=endpoint.get(service)
            )
        return self.made[service]


def stack_target(clients: Clients, stack_name: str) -> Target:
    cfn = clients("cloudformation")
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    table = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId="ContactsTable")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    return Target(
        api_url=outputs["ApiUrl"],
        state_machine_arn=outputs.get("StateMachineArn"),
        table=table,
        # SmsEventsLogGroup's name in template.yaml.
        events_log_group=f"/sms-voice/{stack_name}/events",
        topic_arn=outputs.get("InboundSmsTopicArn"),
    )


def find_state_machine(clients: Clients) -> str | None:
    """Without a stack, the one registration state machine the endpoint has."""
    machines = clients("stepfunctions").list_state_machines().get("stateMachines", [])
    named = [m for m in machines if "Registration" in m["name"]] or machines
    return str(named[0]["stateMachineArn"]) if len(named) == 1 else None


def execution_arn(state_machine_arn: str, registration_id: str) -> str:
    # The sign-up names the execution after its registrationId (optin.usecases.signup).
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + registration_id


def waiting_at_send_confirmation(sfn: Any, arn: str) -> tuple[str, str | None, str]:
    """(status, message id if the history shows one, what the last event says)."""
    execution = sfn.describe_execution(executionArn=arn)
    status = str(execution["status"])
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)[
        "events"
    ]
    last_state = next(
        (e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e),
        None,
    )
    submitted = next((e for e in events if e["type"] == "TaskSubmitted"), None)
    message_id = None
    if submitted is not None:
        # The Lambda's answer ({"messageId"}) when the service puts it in the event's output.
        try:
            output = json.loads(submitted["taskSubmittedEventDetails"].get("output") or "{}")
            message_id = (output.get("Payload") or {}).get("messageId")
        except (ValueError, AttributeError):
            message_id = None
    if status != "RUNNING":
        detail = f"{status} ({execution.get('error', '')}: {execution.get('cause', '')})"
    elif last_state == "SendConfirmation" and submitted is not None:
        detail = "RUNNING at SendConfirmation, the text handed to End User Messaging"
    else:
        detail = f"RUNNING, last state {last_state}, last event {events[0]['type']}"
    at_wait = status == "RUNNING" and last_state == "SendConfirmation" and submitted is not None
    return ("WAITING" if at_wait else status), message_id, detail


def ledger_message_id(dynamodb: Any, table: str, phone: str, registration_id: str) -> str | None:
    """The message id the confirmation_sent ledger event of this registration records."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :events)",
        "ExpressionAttributeValues": {":pk": {"S": f"CONTACT#{phone}"}, ":events": {"S": "EVENT#"}},
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**request)
        for item in page.get("Items", []):
            if (
                item.get("type", {}).get("S") == "confirmation_sent"
                and item.get("registrationId", {}).get("S") == registration_id
            ):
                details = json.loads(item.get("details", {}).get("S") or "{}")
                return str(details.get("messageId") or "") or None
        if not page.get("LastEvaluatedKey"):
            return None
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def poll(probe: Callable[[], Any], timeout: float, interval: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def manual_checks(phone: str, target: Target) -> list[str]:
    topic = target.topic_arn or "<InboundSmsTopicArn output>"
    reply = {
        "originationNumber": "<PHONE>",
        "destinationNumber": "<OriginationPhoneNumber output>",
        "messageKeyword": "YES",
        "messageBody": "YES",
        "inboundMessageId": "smoke-<any new id>",
        "previousPublishedMessageId": "<the message id above>",
    }
    return [
        "Not checked here: the YES path. The simulator numbers cannot reply, so End User",
        "Messaging never publishes a YES for them. To check it by hand:",
        "  * with a real phone: verify it in the SMS sandbox (docs/deploy.md step 2), sign it up",
        "    on the WebUrl form from a registered number, reply YES, then expect the welcome",
        "    text and GET /signups/<registrationId> to say CONFIRMED;",
        f"  * or, with this simulator number (<PHONE> below: {mask(phone)}, given by --phone),",
        "    publish what End User Messaging would (your role needs kms:GenerateDataKey on the",
        "    topic's key). That exercises SNS -> InboundSmsFunction -> OptIn, not the carrier",
        "    or the number's two-way setting:",
        f"      aws sns publish --topic-arn {topic} \\",
        f"        --message '{json.dumps(reply)}'",
        "    then expect the execution SUCCEEDED (Confirmed) and the status CONFIRMED.",
    ]


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    report = Report(out=out)
    phone = args.phone
    clients = Clients(args.region, args.sfn_endpoint, args.dynamodb_endpoint)
    if args.stack_name:
        try:
            target = stack_target(clients, args.stack_name)
        except Exception as error:  # any failure here means nothing else can be checked
            report.add(FAIL, "stack outputs", f"{type(error).__name__}: {error}")
            return 1
        report.add(OK, "stack outputs", f"{args.stack_name}: ApiUrl, StateMachineArn, table")
    else:
        target = Target(args.api_url, args.state_machine_arn, args.table)
    api = target.api_url.rstrip("/")

    try:
        status, body = http("GET", f"{api}/disclosure", timeout=args.http_timeout)
    except ApiDown as error:
        report.add(FAIL, "API reachable", f"{api}: {error}")
        return 1
    report.add(OK, "API reachable", api)
    version = body.get("version") if isinstance(body, dict) else None
    if status == 200 and version and body.get("text"):
        report.add(OK, "GET /disclosure 200", f"version {version}")
    else:
        report.add(FAIL, f"GET /disclosure {status}", error_code(body))
        version = None

    signup = {
        "firstName": "Smoke",
        "phoneNumber": phone,
        "consent": True,
        **({"disclosureVersion": version} if version else {}),
    }
    try:
        status, body = http("POST", f"{api}/signups", signup, timeout=args.http_timeout)
    except ApiDown as error:
        report.add(FAIL, "POST /signups", f"no answer: {error}")
        return 1
    registration_id = body.get("registrationId") if isinstance(body, dict) else None
    if status == 202 and registration_id:
        again = " (resent: this number was already PENDING)" if body.get("resent") else ""
        report.add(OK, "POST /signups 202", f"{mask(phone)} registration {registration_id}{again}")
    elif status == 200:
        report.add(
            FAIL,
            "POST /signups 200",
            f"{mask(phone)} is already CONFIRMED in this stack: no text was sent",
        )
        return 1
    else:
        report.add(FAIL, f"POST /signups {status}", error_code(body))
        return 1

    status, body = http("GET", f"{api}/signups/{registration_id}", timeout=args.http_timeout)
    found = body.get("status") if isinstance(body, dict) else None
    if status == 200 and found == "PENDING":
        report.add(OK, "GET /signups/{id} PENDING", str(body.get("phoneNumber")))
    else:
        report.add(FAIL, f"GET /signups/{{id}} {status}", str(found or error_code(body)))

    message_id: str | None = None
    state_machine = target.state_machine_arn
    if state_machine is None and args.sfn_endpoint:
        state_machine = find_state_machine(clients)
    if state_machine is None:
        report.add(SKIP, "execution", "no --state-machine-arn or --stack-name: not observable")
    else:
        arn = execution_arn(state_machine, registration_id)
        last: list[tuple[str, str | None, str]] = []

        def settled() -> bool:
            try:
                last.append(waiting_at_send_confirmation(clients("stepfunctions"), arn))
            except Exception as error:  # ExecutionDoesNotExist, access denied, endpoint down
                last.append(("ERROR", None, f"{type(error).__name__}: {error}"))
                return False
            return last[-1][0] != "RUNNING"

        poll(settled, args.timeout, args.interval)
        state, message_id, detail = last[-1]
        if message_id:
            detail += f", message id {message_id}"
        report.add(OK if state == "WAITING" else FAIL, "execution waits for YES", detail)

    if target.table is None:
        report.add(SKIP, "confirmation in the ledger", "no table (--table or --stack-name)")
    else:

        def recorded() -> str | None:
            try:
                return ledger_message_id(
                    clients("dynamodb"), target.table or "", phone, registration_id
                )
            except Exception:  # reported below as "not found"
                return None

        ledger_id = poll(recorded, args.timeout, args.interval)
        if ledger_id and (message_id is None or ledger_id == message_id):
            message_id = ledger_id
            report.add(OK, "confirmation in the ledger", f"message id {ledger_id}")
        elif ledger_id:
            report.add(FAIL, "confirmation in the ledger", f"{ledger_id}, history {message_id}")
        else:
            report.add(FAIL, "confirmation in the ledger", "no confirmation_sent event")

    if target.events_log_group and message_id:
        group = target.events_log_group

        def delivered() -> list[str]:
            found = clients("logs").filter_log_events(
                logGroupName=group, filterPattern=f'"{message_id}"', limit=20
            )
            return [
                str(json.loads(e["message"]).get("eventType", "?")) for e in found.get("events", [])
            ]

        try:
            types = poll(delivered, args.timeout, max(args.interval, 5.0))
        except Exception as error:
            report.add(FAIL, "delivery event", f"{group}: {type(error).__name__}: {error}")
        else:
            mark = OK if types else FAIL
            report.add(mark, "delivery event", ", ".join(sorted(set(types))) or f"none in {group}")

    for line in manual_checks(phone, target):
        out(line)
    return 1 if report.failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="the deployed stack; its outputs give the rest")
    where.add_argument("--api-url", help="the API's base URL, without CloudFormation")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--phone",
        default=SIMULATOR_SUCCESS,
        help="destination; default AWS's US simulator success number",
    )
    parser.add_argument("--state-machine-arn", help="with --api-url: the registration machine")
    parser.add_argument("--table", help="with --api-url: the contacts table, to read the ledger")
    parser.add_argument("--sfn-endpoint", help="for local testing: Step Functions endpoint URL")
    parser.add_argument("--dynamodb-endpoint", help="for local testing: DynamoDB endpoint URL")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait per step")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between polls")
    parser.add_argument("--http-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    if not re.fullmatch(r"\+[1-9]\d{7,14}", args.phone):
        parser.error("--phone must be E.164, like +14254147755")
    return args


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
