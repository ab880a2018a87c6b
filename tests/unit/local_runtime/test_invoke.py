"""`python -m local invoke`: every sample event in events/ through its function, and bad input.

Each invocation is a subprocess, as a user runs it. The functions that call End User Messaging
or Step Functions reach a runtime started for this module (--endpoint-url); the contact store
is the SQLite file under the same --data-dir, so the steps see each other's work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.runtime import REPO_ROOT, LocalRuntime

EVENTS = REPO_ROOT / "events"
PHONE = "+12065550100"  # the number of every step event in events/
MASKED = "+1206***0100"


def invoke(
    function: str, *args: str, data_dir: Path, endpoint: str = "http://127.0.0.1:9", **kw: Any
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "local", "invoke", function, *args]
    command += ["--data-dir", str(data_dir), "--endpoint-url", endpoint]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, **kw)


def result(done: subprocess.CompletedProcess[str]) -> Any:
    # stdout holds the result and nothing else: logs and metrics went to stderr.
    assert done.stdout.count("\n") == 1, done.stdout
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    rt = LocalRuntime(tmp_path_factory.mktemp("invoke") / "runtime", dynamodb="")
    rt.start()
    try:
        yield rt
    finally:
        rt.stop()


def test_there_is_a_sample_event_for_every_function() -> None:
    from local.runtime.template import load_application

    functions = set(load_application(REPO_ROOT / "template.yaml", {}, {}).functions)
    covered = {function for function, _ in STEPS} | {
        "SignupFunction",
        "ConsoleSessionFunction",
        "ConsoleAuthorizerFunction",
        "PartnerApiFunction",
        "WebhookDispatchFunction",
    }
    assert covered == functions
    for path in EVENTS.glob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))  # each one is JSON


# In the workflow's order: each step's event carries the same registration and number. OptIn
# stands for the YES resuming the workflow; the sample YES after it finds the number confirmed
# (before it, the YES would find no execution of the sample registration running, and expire
# the contact as a sign-up whose workflow is gone).
STEPS = [
    ("ValidateNumberFunction", "validate-number.json"),
    ("CreateContactFunction", "create-contact.json"),
    ("SendConfirmationFunction", "send-confirmation.json"),
    ("OptInFunction", "opt-in.json"),
    ("InboundSmsFunction", "inbound-sms.json"),
    ("ExpireFunction", "expire.json"),
    ("CleanUpFunction", "clean-up.json"),
    ("ContactStatusFunction", "contact-status.json"),
    ("ConsoleFunction", "console-signups.json"),
    ("ConsoleActionsFunction", "console-action-opt-out.json"),
]


def test_the_step_events_run_the_workflow_by_hand(runtime: LocalRuntime) -> None:
    out: dict[str, Any] = {}
    for function, event in STEPS:
        done = invoke(
            function,
            "-e",
            str(EVENTS / event),
            data_dir=runtime.data_dir,
            endpoint=runtime.base_url,
        )
        assert done.returncode == 0, f"{function}: {done.stdout}\n{done.stderr}"
        out[function] = result(done)
        assert PHONE not in done.stderr  # the handlers' logs mask the number
    assert out["ValidateNumberFunction"]["acceptable"] is True
    assert out["ValidateNumberFunction"]["e164"] == PHONE
    assert out["CreateContactFunction"] == {"status": "PENDING"}
    assert set(out["SendConfirmationFunction"]) == {"messageId"}
    # The text went out through the runtime's SMS sandbox.
    sent = runtime.messages(PHONE, "outbound")
    assert "Reply YES" in sent[0]["body"]
    assert out["OptInFunction"] == {"status": "CONFIRMED"}
    # The YES finds the number confirmed: kept, and nothing more is sent.
    inbound = out["InboundSmsFunction"]
    assert inbound["processed"] == 1 and inbound["dropped"] == 0
    assert len(runtime.messages(PHONE, "outbound")) == 2  # the welcome text
    assert out["ExpireFunction"] == {"status": "CONFIRMED"}  # too late: changes nothing
    # The catch-all after a failed OptIn leaves a confirmed number as it is.
    assert out["CleanUpFunction"]["status"] == "CONFIRMED"
    assert out["CleanUpFunction"]["error"] == "TransitionConflict"
    status = out["ContactStatusFunction"]
    assert status["statusCode"] == 200
    assert json.loads(status["body"])["status"] == "CONFIRMED"
    listed = out["ConsoleFunction"]
    assert listed["statusCode"] == 200
    [item] = json.loads(listed["body"])["items"]
    assert item["phoneNumber"] == PHONE and item["status"] == "CONFIRMED"  # an agent's view
    assert item["outcome"]["code"] == "confirmed"
    # An agent opts the number out from the console: recorded with who and why, no text sent.
    acted = out["ConsoleActionsFunction"]
    assert acted["statusCode"] == 200, acted
    page = json.loads(acted["body"])
    assert page["signup"]["status"] == "OPTED_OUT"
    assert page["ledger"][-1]["details"]["by"] == "admin"
    assert len(runtime.messages(PHONE, "outbound")) == 2


def test_the_signup_events_are_api_gateway_proxy_events(runtime: LocalRuntime) -> None:
    done = invoke(
        "SignupFunction",
        "-e",
        str(EVENTS / "signup-post.json"),
        # A sample event cannot carry a solved CAPTCHA (each challenge expires), so the
        # defences are off here, as docs/local-runtime.md says.
        "--parameter-overrides",
        "CaptchaRequired=false",
        "SignupRateLimits=off",
        data_dir=runtime.data_dir,
        endpoint=runtime.base_url,
    )
    assert done.returncode == 0, done.stderr
    answer = result(done)
    assert answer["statusCode"] == 202
    assert json.loads(answer["body"])["status"] == "PENDING"

    done = invoke(
        "SignupFunction",
        "-e",
        str(EVENTS / "signup-get-disclosure.json"),
        data_dir=runtime.data_dir,
    )
    assert done.returncode == 0, done.stderr
    answer = result(done)
    assert answer["statusCode"] == 200
    assert "Acme Alerts" in json.loads(answer["body"])["text"]


def test_the_console_events(runtime: LocalRuntime) -> None:
    # GET behind the authorizer: the function answers the context the authorizer put there.
    done = invoke(
        "ConsoleSessionFunction", "-e", str(EVENTS / "console-session-get.json"),
        data_dir=runtime.data_dir, endpoint=runtime.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = result(done)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == {"username": "ada", "role": "viewer"}
    # The sample cookie's token is no one's: the runtime's cognito-idp refuses it, and the
    # authorizer answers as API Gateway expects, with the error "Unauthorized".
    done = invoke(
        "ConsoleAuthorizerFunction", "-e", str(EVENTS / "console-authorizer.json"),
        data_dir=runtime.data_dir, endpoint=runtime.base_url,
    )  # fmt: skip
    assert done.returncode == 1
    assert result(done)["errorMessage"] == "Unauthorized"


def test_the_partner_event_is_refused_for_its_key_nobody_made(runtime: LocalRuntime) -> None:
    # The sample key is shaped like a key but is in no store: the function's own check says so.
    done = invoke(
        "PartnerApiFunction", "-e", str(EVENTS / "partner-get-signup.json"),
        data_dir=runtime.data_dir, endpoint=runtime.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = result(done)
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "invalid_api_key"


def test_the_scheduled_event_sweeps_webhooks(runtime: LocalRuntime) -> None:
    done = invoke(
        "WebhookDispatchFunction", "-e", str(EVENTS / "webhook-dispatch-scheduled.json"),
        data_dir=runtime.data_dir, endpoint=runtime.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # Nothing is due in a fresh store: nothing attempted, nothing failed.
    assert result(done) == {
        "attempted": 0, "delivered": 0, "retrying": 0, "failed": 0, "skipped": 0,
    }  # fmt: skip


def test_parameter_overrides_and_env_vars_reach_the_function(tmp_path: Path) -> None:
    disclosure = str(EVENTS / "signup-get-disclosure.json")
    done = invoke(
        "SignupFunction",
        "-e",
        disclosure,
        "--parameter-overrides",
        "ProgramName=Beta Club",
        data_dir=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Beta Club" in json.loads(result(done)["body"])["text"]

    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"SignupFunction": {"PROGRAM_NAME": "Env Club"}}))
    done = invoke(
        "SignupFunction", "-e", disclosure, "--env-vars", str(env_file), data_dir=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Env Club" in json.loads(result(done)["body"])["text"]


def test_the_event_can_come_from_stdin(tmp_path: Path) -> None:
    event = (EVENTS / "signup-get-disclosure.json").read_text(encoding="utf-8")
    done = invoke("SignupFunction", "-e", "-", data_dir=tmp_path, input=event)
    assert done.returncode == 0, done.stderr
    assert result(done)["statusCode"] == 200


def test_a_function_error_is_lambdas_error_json_and_exit_1(tmp_path: Path) -> None:
    # CreateContact's event lacks the registration: the handler raises, as on Lambda.
    event = tmp_path / "bad.json"
    event.write_text(json.dumps({"phoneNumber": PHONE}))
    done = invoke("CreateContactFunction", "-e", str(event), data_dir=tmp_path)
    assert done.returncode == 1, done.stderr
    error = result(done)
    assert set(error) == {"errorType", "errorMessage", "stackTrace"}
    assert error["errorType"] == "ValidationError"
    assert "registrationId" in error["errorMessage"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["NoSuchFunction"], "NoSuchFunction is not a function of the template"),
        (["SignupFunction", "-e", "events/no-such-file.json"], "cannot read the event file"),
        (["SignupFunction", "-e", "README.md"], "is not JSON"),
        (
            ["SignupFunction", "--parameter-overrides", "NoSuchParameter=1"],
            "unknown parameter override",
        ),
        (["SignupFunction", "--parameter-overrides", "NotKeyValue"], "is not Key=Value"),
    ],
)
def test_a_wrong_command_is_exit_2_with_one_sentence(
    args: list[str], says: str, tmp_path: Path
) -> None:
    done = invoke(*args, data_dir=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert says in done.stderr
    assert "Traceback" not in done.stderr


def test_python_m_local_without_invoke_still_starts_the_runtime_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert "--parameter-overrides" in done.stdout and "--dynamodb-endpoint" in done.stdout


def test_a_timeout_is_lambdas_own_error_json(tmp_path: Path) -> None:
    """A handler past its Timeout: the body Lambda (and sam local invoke) gives, exit 1."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "slow.py").write_text(
        "import time\n\ndef handler(event, context):\n    time.sleep(30)\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  SlowFunction:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        f"      CodeUri: {code}\n"
        "      Handler: slow.handler\n"
        "      Runtime: python3.11\n"
        "      Timeout: 1\n"
    )
    event = tmp_path / "event.json"
    event.write_text("{}")
    done = invoke(
        "SlowFunction",
        "-e",
        str(event),
        "--template",
        str(template),
        "--env-vars",
        str(tmp_path / "none.json"),
        data_dir=tmp_path,
    )
    assert done.returncode == 1, done.stderr
    error = result(done)
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
