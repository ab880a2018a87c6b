"""Every AWS operation the adapters call exists in botocore's service model (the version the
Lambda zip carries) and is exercised by a test that botocore validates against that model: a
Stubber given the operation, or a moto-backed test that drives the adapter method reaching the
call. Adding a boto3 call without such a test fails here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.unit.build.boto3_calls import (
    Adapter,
    OperationCall,
    SuiteFile,
    evidence,
    moto_helper_modules,
    read_adapters,
    read_tests,
)
from tests.unit.build.cfn import ROOT

ADAPTERS = ROOT / "functions" / "optin" / "adapters"
TESTS = ROOT / "tests"
# This directory's own tests name operations in made-up adapters; they prove nothing.
HERE = Path(__file__).resolve().parent


def project_tests() -> list[SuiteFile]:
    paths = [p for p in sorted(TESTS.rglob("*.py")) if HERE not in p.parents]
    return read_tests(paths, moto_helper_modules(TESTS / "support"))


PROJECT_ADAPTERS = read_adapters(sorted(ADAPTERS.glob("*.py")))
PROJECT_CALLS = [(adapter, call) for adapter in PROJECT_ADAPTERS for call in adapter.calls]


def _id(item: tuple[Adapter, OperationCall]) -> str:
    adapter, call = item
    return f"{adapter.module.rpartition('.')[2]}:{call.operation}:{call.line}"


def test_the_adapters_are_read() -> None:
    services = {call.service for _, call in PROJECT_CALLS}
    assert {"dynamodb", "stepfunctions", "pinpoint-sms-voice-v2"} <= services
    operations = {call.operation for _, call in PROJECT_CALLS}
    assert {"SendTextMessage", "StartExecution", "SendTaskSuccess", "PutItem"} <= operations


def test_every_call_is_in_the_service_model() -> None:
    assert [p for adapter in PROJECT_ADAPTERS for p in adapter.problems] == []


@pytest.fixture(scope="module")
def tests() -> list[SuiteFile]:
    return project_tests()


@pytest.mark.parametrize("item", PROJECT_CALLS, ids=_id)
def test_every_call_is_exercised_by_a_model_validated_test(
    item: tuple[Adapter, OperationCall], tests: list[SuiteFile]
) -> None:
    adapter, call = item
    assert evidence(adapter, call, tests), (
        f"{call.service} {call.operation} ({adapter.module}:{call.line}, in {call.caller}) "
        "has no Stubber or moto-backed test"
    )


# --- the checker itself, on made-up adapters and tests -----------------------------------------


def _write(directory: Path, name: str, source: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


SHARED = """
    from optin.adapters.lazy_client import LazyClient, session_client

    default_client_factory = session_client("pinpoint-sms-voice-v2", max_attempts=1)
"""

SENDER = """
    import re
    from fake.shared import default_client_factory

    class Sender:
        def __init__(self, factory=default_client_factory):
            self._client = LazyClient(factory)

        def send(self, to):
            return self._call("SendTextMessage", {"DestinationPhoneNumber": to})

        def opt_out(self, number):
            self._call("put_opted_out_number", {"OptedOutNumber": number})

        def lookup(self, number):
            return self._client().carrier_lookup(PhoneNumber=number)

        def _call(self, operation, request):
            method = re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()
            return getattr(self._client(), method)(**request)
"""


def _sender(tmp_path: Path, source: str = SENDER) -> Adapter:
    adapters = read_adapters(
        [_write(tmp_path, "shared", SHARED), _write(tmp_path, "sender", source)], package="fake"
    )
    return next(a for a in adapters if a.module == "fake.sender")


def test_calls_are_found_directly_and_through_a_dispatch_helper(tmp_path: Path) -> None:
    sender = _sender(tmp_path)
    assert sender.problems == []
    assert {(c.service, c.operation, c.caller) for c in sender.calls} == {
        ("pinpoint-sms-voice-v2", "SendTextMessage", "Sender.send"),
        ("pinpoint-sms-voice-v2", "PutOptedOutNumber", "Sender.opt_out"),
        ("pinpoint-sms-voice-v2", "CarrierLookup", "Sender.lookup"),
    }


def test_an_operation_the_model_lacks_is_reported(tmp_path: Path) -> None:
    source = SENDER.replace('"SendTextMessage"', '"SendTextMesage"').replace(
        "carrier_lookup(", "carrier_lookups("
    )
    problems = _sender(tmp_path, source).problems
    assert any("SendTextMesage is not an operation of pinpoint-sms-voice-v2" in p for p in problems)
    assert any("carrier_lookups is not an operation" in p for p in problems)


def test_a_dispatch_without_a_literal_operation_is_reported(tmp_path: Path) -> None:
    source = SENDER.replace('self._call("SendTextMessage",', "self._call(self.operation,")
    assert any("without a literal operation name" in p for p in _sender(tmp_path, source).problems)


def test_a_module_with_calls_but_no_service_is_reported(tmp_path: Path) -> None:
    source = SENDER.replace("from fake.shared import default_client_factory", "")
    [adapter] = read_adapters([_write(tmp_path, "sender", source)], package="fake")
    assert adapter.calls == []
    assert "names 0 services" in adapter.problems[0]


def test_evidence_is_a_stubber_or_a_moto_test_reaching_the_call(tmp_path: Path) -> None:
    sender = _sender(tmp_path)
    calls = {c.operation: c for c in sender.calls}
    (tmp_path / "t").mkdir()
    stubbed = _write(
        tmp_path / "t",
        "test_stub",
        """
        from botocore.stub import Stubber
        def test_it(stubber):
            stubber.add_response("send_text_message", {"MessageId": "m"}, {})
        """,
    )
    moto_reaching = _write(
        tmp_path / "t",
        "test_moto",
        """
        from moto import mock_aws
        from fake.sender import Sender
        def test_it():
            Sender().opt_out("+12065550100")
        """,
    )
    no_moto = _write(
        tmp_path / "t",
        "test_plain",
        """
        from fake.sender import Sender
        def test_it():
            Sender().lookup("+12065550100")
        """,
    )
    tests = read_tests([stubbed, moto_reaching, no_moto])
    assert evidence(sender, calls["SendTextMessage"], tests) == ["test_stub.py (Stubber)"]
    assert evidence(sender, calls["PutOptedOutNumber"], tests) == ["test_moto.py (moto: opt_out)"]
    # A test with neither Stubber nor moto sends the call nowhere botocore validates it.
    assert evidence(sender, calls["CarrierLookup"], tests) == []


def test_a_moto_helper_module_makes_its_importers_moto_backed(tmp_path: Path) -> None:
    support = tmp_path / "support"
    support.mkdir()
    _write(support, "dynamo", "from moto import mock_aws\n")
    _write(support, "other", "import json\n")
    assert moto_helper_modules(support, package="x.support") == {"x.support.dynamo"}
    test = _write(tmp_path, "test_x", "from x.support import dynamo\n")
    [read] = read_tests([test], {"x.support.dynamo"})
    assert read.moto
