"""schemathesis against the local runtime: every operation of the partner API's OpenAPI
document, with data the document allows and data it forbids, answers no 5xx and nothing the
document does not describe (status code, content type, body schema, headers). Then the
answers of a real sign-up's life (202, 200, the replayed 202, the opt-out) against the same
document, since random data rarely makes a number we can sign up."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.runtime.template import load_application
from tests.integration.test_partner_api import evidence_body, new_key
from tests.support.numbers import new_us_number
from tests.support.runtime import REPO_ROOT, LocalRuntime

DOCUMENT = REPO_ROOT / "functions" / "optin" / "api" / "partner-openapi.json"
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Enough to reach each refusal of each operation; the whole module stays well under a minute.
EXAMPLES = 60


def served_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every documented operation the template serves (all of them:
    test_partner_openapi.py in tests/unit checks that the two sets are equal)."""
    doc = json.loads(DOCUMENT.read_text())
    app = load_application(REPO_ROOT / "template.yaml")
    served = {(route.method, route.path) for route in app.routes}
    return [
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method != "parameters" and (method.upper(), path) in served
    ]


def with_inputs() -> list[tuple[str, str]]:
    """The served operations that take parameters or a body: the ones data can violate."""
    doc = json.loads(DOCUMENT.read_text())
    return [
        (method, path)
        for method, path in served_operations()
        if doc["paths"][path].get("parameters")
        or {"parameters", "requestBody"} & set(doc["paths"][path][method.lower()])
    ]


@pytest.fixture(scope="module")
def schema() -> Any:
    loaded = schemathesis.openapi.from_path(DOCUMENT)
    loaded.config.generation.update(
        # The key is the session's: every case reaches the function (the keyless 403 is
        # checked below). Unknown query parameters are ignored, as docs/partner-api.md says.
        with_security_parameters=False,
        allow_extra_parameters=False,
    )
    return loaded


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """A runtime with local/env.json's WEBHOOK_ALLOW_PRIVATE_TARGETS=true taken out."""
    where = Path(tmp_path_factory.mktemp("openapi"))
    defaults = json.loads((REPO_ROOT / "local" / "env.json").read_text())
    defaults["Parameters"]["WEBHOOK_ALLOW_PRIVATE_TARGETS"] = "false"
    (where / "env.json").write_text(json.dumps(defaults))
    with LocalRuntime(where / "runtime", env_vars=where / "env.json") as rt:
        yield rt


@pytest.fixture(scope="module")
def partner(deployed: LocalRuntime) -> Iterator[tuple[LocalRuntime, requests.Session]]:
    _, key = new_key(deployed, "Fuzzer")
    with requests.Session() as session:
        session.headers["x-api-key"] = key
        yield deployed, session


def run(
    schema: Any,
    partner: tuple[LocalRuntime, requests.Session],
    method: str,
    path: str,
    mode: GenerationMode,
    checks: list[Callable[..., Any]],
) -> None:
    rt, session = partner
    operation = schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,  # the same cases every run
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its case
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call_and_validate(base_url=rt.base_url, session=session, checks=checks)
        seen.append(response.status_code)

    check()
    assert seen
    if mode == GenerationMode.POSITIVE:
        # The cases reached the function with the key, not only API Gateway's keyless 403.
        assert set(seen) != {403}, seen


@pytest.mark.parametrize(("method", "path"), served_operations())
def test_data_the_document_allows_gets_documented_answers(
    schema: Any, partner: Any, method: str, path: str
) -> None:
    run(schema, partner, method, path, GenerationMode.POSITIVE, CONFORMANCE)


@pytest.mark.parametrize(("method", "path"), with_inputs())
def test_data_the_document_forbids_is_refused_with_documented_answers(
    schema: Any, partner: Any, method: str, path: str
) -> None:
    checks = [*CONFORMANCE, negative_data_rejection]
    run(schema, partner, method, path, GenerationMode.NEGATIVE, checks)


def test_every_served_route_was_fuzzed() -> None:
    assert {("POST", "/v1/signups"), ("GET", "/v1/openapi.json")} <= set(served_operations())
    assert len(served_operations()) >= 5
    assert ("DELETE", "/v1/signups/{registrationId}") in with_inputs()
    assert ("GET", "/v1/openapi.json") not in with_inputs()
    webhook_routes = {op for op in served_operations() if op[1].startswith("/v1/webhook")}
    assert len(webhook_routes) == 7, webhook_routes
    assert ("PUT", "/v1/webhook") in with_inputs()


def test_the_webhook_refusals_as_deployed_match_the_document(
    schema: Any, partner: tuple[LocalRuntime, requests.Session]
) -> None:
    rt, session = partner
    operation = schema["/v1/webhook"]["PUT"]

    def put(**kwargs: Any) -> tuple[int, str]:
        response = session.put(rt.base_url + "/v1/webhook", timeout=30, **kwargs)
        operation.validate_response(response)
        return response.status_code, response.json()["error"]["code"]

    assert put(json={"url": "http://hooks.example.com/in"}) == (400, "https_required")
    assert put(json={"url": "https://10.1.2.3/in"}) == (400, "private_address")
    plain = {"data": '{"url": "https://hooks.example.com/in"}'}
    assert put(**plain, headers={"Content-Type": "text/plain"}) == (415, "unsupported_media_type")
    assert put(json={"url": "https://hooks.example.com/in", "extra": 1}) == (400, "unknown_field")
    listed = session.get(rt.base_url + "/v1/webhook/deliveries?limit=101", timeout=30)
    schema["/v1/webhook/deliveries"]["GET"].validate_response(listed)
    assert (listed.status_code, listed.json()["error"]["code"]) == (400, "invalid_limit")


def test_a_sign_ups_life_matches_the_document(
    schema: Any, partner: tuple[LocalRuntime, requests.Session]
) -> None:
    rt, session = partner

    def call(method: str, path: str, template: str, **kwargs: Any) -> requests.Response:
        response = session.request(method, rt.base_url + path, timeout=30, **kwargs)
        schema[template][method].validate_response(response)
        return response

    number = new_us_number()
    body = evidence_body(number)
    headers = {"Idempotency-Key": f"life-{number}"}
    made = call("POST", "/v1/signups", "/v1/signups", json=body, headers=headers)
    assert made.status_code == 202
    again = call("POST", "/v1/signups", "/v1/signups", json=body, headers=headers)
    assert again.json() == made.json() and again.headers["Idempotent-Replayed"] == "true"
    other = {**body, "source": "elsewhere"}
    conflict = call("POST", "/v1/signups", "/v1/signups", json=other, headers=headers)
    assert conflict.status_code == 409
    one = f"/v1/signups/{made.json()['id']}"
    view = call("GET", one, "/v1/signups/{registrationId}")
    assert view.status_code == 200 and view.json()["ledger"]
    found = call("GET", f"/v1/signups?phoneNumber={quote(number)}", "/v1/signups")
    assert [s["id"] for s in found.json()["signups"]] == [made.json()["id"]]
    out = call("DELETE", one, "/v1/signups/{registrationId}", json={"reason": "unsubscribed"})
    assert out.status_code == 200 and out.json()["status"] == "OPTED_OUT"
    twice = call("DELETE", one, "/v1/signups/{registrationId}", json={"reason": "again"})
    assert twice.status_code == 409
    document = call("GET", "/v1/openapi.json", "/v1/openapi.json")
    assert document.json() == json.loads(DOCUMENT.read_text())
    bare = requests.get(rt.base_url + "/v1/openapi.json", timeout=30)
    schema["/v1/openapi.json"]["GET"].validate_response(bare)
    assert (bare.status_code, bare.json()) == (403, {"message": "Forbidden"})


def test_a_response_outside_the_document_is_caught(schema: Any) -> None:
    # The checks above can fail: a 200 with another shape is refused by the same validation.
    fake = requests.Response()
    fake.status_code = 200
    fake._content = b'{"id": 1}'
    fake.headers["Content-Type"] = "application/json"
    fake.request = requests.Request("GET", "http://x/v1/signups/abc").prepare()
    with pytest.raises(BaseException) as caught:
        schema["/v1/signups/{registrationId}"]["GET"].validate_response(fake)
    group = caught.value
    found = group.exceptions if isinstance(group, BaseExceptionGroup) else [group]
    assert any("violates schema" in str(error) for error in found)


def test_sequences_that_follow_the_documents_links(
    schema: Any, partner: tuple[LocalRuntime, requests.Session]
) -> None:
    # Stateful: schemathesis chains createSignup's 202 into getSignup and optOutSignup through
    # the document's links, so the ids are real ones and the answers are the 200s and 409s.
    # The sign-up operations only: the links are theirs, and with the seven webhook operations
    # in the draw, 15 sequences seldom start with a sign-up (each is fuzzed on its own above).
    rt, session = partner
    served = {op for op in served_operations() if op[1].startswith("/v1/signups")}
    machine = schema.include(
        operation_id=[
            op["operationId"]
            for path, item in json.loads(DOCUMENT.read_text())["paths"].items()
            for method, op in item.items()
            if method != "parameters" and (method.upper(), path) in served
        ]
    ).as_state_machine()
    seen: list[tuple[str, int]] = []

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": rt.base_url, "session": session}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            seen.append((case.operation.label, response.status_code))
            case.validate_response(response, checks=CONFORMANCE)

    Sequences.run(
        settings=settings(
            max_examples=15,
            derandomize=True,
            deadline=None,
            database=None,
            stateful_step_count=4,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
    assert ("GET /v1/signups/{registrationId}", 200) in seen, sorted(set(seen))
