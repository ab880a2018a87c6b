"""boto3 clients give up inside the function's timeout."""

from __future__ import annotations

from pathlib import Path

from local.runtime.cfn_yaml import load_template
from optin.adapters.lazy_client import client_config, session_client

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


def test_a_call_with_all_its_attempts_ends_before_the_function_times_out() -> None:
    timeout = load_template(TEMPLATE)["Globals"]["Function"]["Timeout"]
    config = client_config()
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) < timeout


def test_clients_carry_the_timeouts(monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = session_client("dynamodb")()
    assert client.meta.config.read_timeout == client_config().read_timeout
    assert client.meta.config.connect_timeout == client_config().connect_timeout
    single = session_client("pinpoint-sms-voice-v2", max_attempts=1)()
    assert single.meta.config.retries["total_max_attempts"] == 1
