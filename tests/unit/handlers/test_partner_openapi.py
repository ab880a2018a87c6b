"""The partner API's OpenAPI document (functions/optin/api/partner-openapi.json) against the
code: a valid OpenAPI 3.1 document, the same routes as the handler and the template, the
handler's limits and error codes, and served at GET /v1/openapi.json behind the key."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from schemathesis.specs.openapi.definitions import OPENAPI_31

from local.runtime.template import load_application
from optin.handlers import partner_api
from optin.usecases.console_actions import MAX_REASON
from tests.fakes.api_keys import MemoryApiKeyStore

REPO = Path(__file__).resolve().parents[3]
DOCUMENT = REPO / "functions" / "optin" / "api" / "partner-openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
WEBHOOK_PREFIX = "/v1/webhook"


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def shape(path: str) -> str:
    """A path with its parameters unnamed: /v1/signups/{} (the handler says <registration_id>,
    the template and the document {registrationId})."""
    return re.sub(r"\{[^}]+\}|<[^>]+>", "{}", path)


def documented() -> set[tuple[str, str]]:
    return {
        (method.upper(), shape(path))
        for path, item in document()["paths"].items()
        for method in item
        if method in METHODS
    }


def template_routes() -> dict[tuple[str, str], str]:
    """(method, path) -> handler of every /v1 route the template declares."""
    app = load_application(REPO / "template.yaml")
    routes = {}
    for route in app.routes:
        if route.path.startswith("/v1/"):
            assert route.api_key_required, f"{route.method} {route.path} must require the key"
            routes[(route.method, shape(route.path))] = app.functions[route.function_id].handler
    return routes


def handler_routes(handler: str) -> set[tuple[str, str]]:
    module = importlib.import_module(handler.rsplit(".", 1)[0])
    resolver = module.app
    return {
        (route.method, shape(route.path))
        for route in resolver._static_routes + resolver._dynamic_routes
    }


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1.")
    # The OAS 3.1 schema (as published by the OpenAPI Initiative, bundled with schemathesis),
    # then each schema object against JSON Schema 2020-12, which the OAS schema leaves open.
    jsonschema.Draft202012Validator(OPENAPI_31).validate(doc)
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    refs = re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', DOCUMENT.read_text())
    for kind, name in refs:
        assert name in doc["components"][kind], f"dangling $ref {kind}/{name}"


def test_an_invalid_document_is_caught() -> None:
    # The check above can fail: a document without info is refused.
    broken = {k: v for k, v in document().items() if k != "info"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(OPENAPI_31).validate(broken)


def test_every_route_is_documented_and_every_documented_route_served() -> None:
    served = template_routes()
    # The template and the handlers agree: each handler serves exactly its events' routes.
    for handler in set(served.values()):
        mine = {route for route, owner in served.items() if owner == handler}
        assert handler_routes(handler) == mine, handler
    # The webhook routes included: seven of them, served by the partner API's function.
    assert len({r for r in served if r[1].startswith(WEBHOOK_PREFIX)}) == 7
    assert set(served) == documented()


def test_the_security_scheme_is_the_header_the_handler_reads() -> None:
    doc = document()
    assert doc["security"] == [{"apiKey": []}]
    scheme = doc["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "x-api-key"}
    source = Path(partner_api.__file__).read_text()
    assert '.get("x-api-key")' in source
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert "security" not in operation, f"{method} {path} overrides the key"
                assert "403" in operation["responses"], f"{method} {path}: API Gateway's 403"
                assert "429" in operation["responses"], f"{method} {path}: throttling"


def test_the_documented_limits_are_the_handlers() -> None:
    schemas = document()["components"]["schemas"]
    fields = {**schemas["SignupRequest"]["properties"], **schemas["Consent"]["properties"]}
    assert set(partner_api.LIMITS) == {name for name in fields if name != "consent"}
    for name, limit in partner_api.LIMITS.items():
        assert fields[name]["maxLength"] == limit, name
    assert schemas["OptOutRequest"]["properties"]["reason"]["maxLength"] == MAX_REASON
    assert set(schemas["SignupRequest"]["required"]) == {"phoneNumber", "consent"}
    assert set(schemas["Consent"]["required"]) == set(partner_api._REQUIRED_CONSENT)
    assert set(schemas["SignupRequest"]["properties"]) == partner_api._TOP
    assert set(schemas["Consent"]["properties"]) == partner_api._CONSENT


@pytest.mark.parametrize(
    "key", ["order-4711", "a", "x" * 255, "", "x" * 256, "has space", "é", "tab\there"]
)
def test_the_idempotency_key_pattern_is_the_handlers(key: str) -> None:
    header = document()["paths"]["/v1/signups"]["post"]["parameters"][0]
    assert header["name"] == "Idempotency-Key"
    documented_ok = re.fullmatch(header["schema"]["pattern"].strip("^$"), key) is not None
    assert documented_ok == (partner_api._IDEMPOTENCY_KEY.fullmatch(key) is not None)


def _codes_in_handler() -> set[str]:
    source = Path(partner_api.__file__).read_text()
    raised = re.findall(r'BadRequest\(\s*"(\w+)"', source)
    answered = re.findall(r'error_response\(\s*\d+,\s*"(\w+)"', source)
    return set(raised) | set(answered)


def test_every_error_code_of_the_handler_is_documented() -> None:
    codes = _codes_in_handler()
    assert {"duplicate_key", "invalid_captured_at", "idempotency_key_reused"} <= codes
    text = DOCUMENT.read_text()
    missing = {code for code in codes if f"`{code}`" not in text and f'"{code}"' not in text}
    assert not missing, f"codes the handler answers that the document does not name: {missing}"


def _webhook_codes() -> dict[str, int]:
    """code -> status of every WebhookError the webhook routes can answer."""
    from optin.domain import webhooks as domain
    from optin.handlers import partner_webhooks
    from optin.usecases import webhooks as usecase

    found: dict[str, int] = {}
    for module in (domain, usecase, partner_webhooks):
        source = Path(module.__file__ or "").read_text()
        for code, rest in re.findall(
            r'WebhookError\(\s*"(\w+)",(.*?)\)\s*(?:from|\n)', source, re.S
        ):
            status = re.search(r",\s*(\d{3})\s*$", rest.strip())
            found[code] = int(status[1]) if status else 400
    return found


def test_every_webhook_refusal_is_documented_with_its_status() -> None:
    codes = _webhook_codes()
    assert codes["unsupported_media_type"] == 415 and codes["no_webhook"] == 404
    assert {"https_required", "private_address", "invalid_limit", "not_found"} <= set(codes)
    doc = document()
    webhook_ops = [
        (path, operation)
        for path, item in doc["paths"].items()
        if path.startswith(WEBHOOK_PREFIX)
        for method, operation in item.items()
        if method in METHODS
    ]
    for code, status in codes.items():
        answers = [json.dumps(op["responses"].get(str(status), {})) for _, op in webhook_ops]
        named = [text for text in answers if f"`{code}`" in text or f'"{code}"' in text]
        assert named, f"no webhook route documents {status} {code}"


@pytest.fixture
def served(world: Any, load_event: Any, lambda_context: Any) -> Any:
    world.deps.api_keys = MemoryApiKeyStore()

    def call(key: str | None) -> tuple[int, dict[str, Any]]:
        event = load_event("apigw_get_contact.json")
        headers = {"x-api-key": key} if key else {}
        event.update(
            httpMethod="GET",
            path="/v1/openapi.json",
            resource="/v1/openapi.json",
            queryStringParameters=None,
            multiValueQueryStringParameters=None,
            pathParameters=None,
            body=None,
            headers=headers,
            multiValueHeaders={name: [value] for name, value in headers.items()},
        )
        event["requestContext"].update(httpMethod="GET", path="/Prod/v1/openapi.json")
        answer = partner_api.handler(event, lambda_context)
        return answer["statusCode"], json.loads(answer["body"])

    return call, world.deps.partners


def test_the_function_serves_the_document_to_a_key_holder(served: Any) -> None:
    call, partners = served
    status, answer = call(partners.create_key("Acme").key)
    assert status == 200 and answer == document()


def test_the_document_needs_a_valid_key(served: Any) -> None:
    call, _ = served
    status, answer = call("optin_0123456789abcdef_" + "x" * 43)
    assert status == 403 and answer["error"]["code"] == "invalid_api_key"


def _examples() -> list[tuple[str, str, Any]]:
    """(where, JSON pointer of its schema, example) for every example in the document."""
    doc = document()
    found = []
    for name, schema in doc["components"]["schemas"].items():
        for index, example in enumerate(schema.get("examples", [])):
            found.append((f"schemas/{name}[{index}]", f"/components/schemas/{name}", example))
    for path, item in doc["paths"].items():
        escaped = path.replace("~", "~0").replace("/", "~1")
        for method, operation in item.items():
            if method not in METHODS:
                continue
            at = f"/paths/{escaped}/{method}"
            bodies = [("requestBody", operation.get("requestBody", {}))]
            bodies += [(f"responses/{s}", r) for s, r in operation["responses"].items()]
            for where, part in bodies:
                media = (part.get("content") or {}).get("application/json") or {}
                for name, example in (media.get("examples") or {}).items():
                    pointer = f"{at}/{where}/content/application~1json/schema"
                    found.append((f"{method} {path} {where} {name}", pointer, example["value"]))
    return found


def test_every_example_in_the_document_matches_its_schema() -> None:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    registry = Registry().with_resource(
        "urn:partner-openapi", Resource(contents=document(), specification=DRAFT202012)
    )
    examples = _examples()
    assert len(examples) > 20
    for where, pointer, example in examples:
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:partner-openapi#{pointer}"}, registry=registry
        )
        errors = [error.message for error in validator.iter_errors(example)]
        assert not errors, f"{where}: {errors}"
    # And the check can fail: a sign-up answer without its status is refused.
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:partner-openapi#/components/schemas/SignupAccepted"}, registry=registry
    )
    assert not validator.is_valid({"id": "0b6f4a1e-5c2d-4e7f-9a1b-3c4d5e6f7a8b"})
