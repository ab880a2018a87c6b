"""The local cognito-idp: each operation's answer has the shape botocore's model gives it, each
refusal is one of the operation's modelled errors, and the rules the code relies on hold
(password policy, hashing, case-insensitive names, expiry, revocation, one-time links)."""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.model import Shape

from local.runtime.cognito import CognitoIdp, password_problem
from local.runtime.http_api import Runtime, make_server
from local.runtime.template import PasswordPolicy, load_application

REPO = Path(__file__).resolve().parents[3]
POOL = "us-east-1_ConsoleUserPool"
CLIENT = "ConsoleUserPoolClient"
PASSWORD = "Correct-Horse-7-battery"
MODEL = botocore.session.get_session().get_service_model("cognito-idp")


def conforms(value: Any, shape: Shape, where: str = "") -> list[str]:
    """Problems of `value` against a botocore shape (members, required, types)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        problems = [f"{where}.{k}: not in the model" for k in value if k not in shape.members]
        problems += [
            f"{where}.{k}: required" for k in shape.metadata.get("required", []) if k not in value
        ]
        for key, item in value.items():
            if key in shape.members:
                problems += conforms(item, shape.members[key], f"{where}.{key}")
        return problems
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [
            p for i, item in enumerate(value) for p in conforms(item, shape.member, f"{where}[{i}]")
        ]
    if kind == "map":
        return [] if isinstance(value, dict) else [f"{where}: not a map"]
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "long": (int,),
        "boolean": (bool,),
        "timestamp": (int, float),
    }
    if kind in expected and not isinstance(value, expected[kind]):
        return [f"{where}: {value!r} is not a {kind}"]
    return []


@pytest.fixture
def idp(tmp_path: Path) -> CognitoIdp:
    now = [1_800_000_000.0]
    app = load_application(REPO / "template.yaml")
    made = CognitoIdp(tmp_path / "cognito.db", app.user_pools.values(), clock=lambda: now[0])
    made.now = now  # type: ignore[attr-defined]
    return made


def call(idp: CognitoIdp, operation: str, **request: Any) -> tuple[int, dict[str, Any]]:
    status, body = idp.handle(operation, request)
    op = MODEL.operation_model(operation)
    if status == 200:
        assert op.output_shape is None or conforms(body, op.output_shape, operation) == []
    else:
        assert body["__type"] in {e.name for e in op.error_shapes}, body
        assert isinstance(body["message"], str) and body["message"]
    return status, body


def add_user(idp: CognitoIdp, name: str = "ada", *groups: str) -> None:
    assert call(idp, "AdminCreateUser", UserPoolId=POOL, Username=name)[0] == 200
    status, _ = call(
        idp, "AdminSetUserPassword", UserPoolId=POOL, Username=name, Password=PASSWORD,
        Permanent=True,
    )  # fmt: skip
    assert status == 200
    for group in groups:
        assert (
            call(idp, "AdminAddUserToGroup", UserPoolId=POOL, Username=name, GroupName=group)[0]
            == 200
        )


def sign_in(idp: CognitoIdp, name: str = "ada", password: str = PASSWORD) -> tuple[int, Any]:
    return call(
        idp, "InitiateAuth", AuthFlow="USER_PASSWORD_AUTH", ClientId=CLIENT,
        AuthParameters={"USERNAME": name, "PASSWORD": password},
    )  # fmt: skip


def test_the_users_lifecycle_in_the_models_shapes(idp: CognitoIdp) -> None:
    add_user(idp, "Ada", "viewer", "agent")
    status, user = call(idp, "AdminGetUser", UserPoolId=POOL, Username="ada")
    assert (status, user["Username"], user["UserStatus"]) == (200, "Ada", "CONFIRMED")
    status, groups = call(idp, "AdminListGroupsForUser", UserPoolId=POOL, Username="ADA")
    assert [g["GroupName"] for g in groups["Groups"]] == ["agent", "viewer"]
    assert (
        call(idp, "AdminRemoveUserFromGroup", UserPoolId=POOL, Username="ada", GroupName="agent")[0]
        == 200
    )
    _, groups = call(idp, "AdminListGroupsForUser", UserPoolId=POOL, Username="ada")
    assert [g["GroupName"] for g in groups["Groups"]] == ["viewer"]
    status, result = sign_in(idp, "aDa")
    assert status == 200 and result["AuthenticationResult"]["ExpiresIn"] == 3600
    token = result["AuthenticationResult"]["AccessToken"]
    assert call(idp, "GetUser", AccessToken=token)[1]["Username"] == "Ada"
    assert call(idp, "ListUsers", UserPoolId=POOL)[1]["Users"][0]["Username"] == "Ada"
    assert call(idp, "AdminDeleteUser", UserPoolId=POOL, Username="ada")[0] == 200
    assert call(idp, "GetUser", AccessToken=token)[1]["__type"] == "NotAuthorizedException"
    assert call(idp, "ListUsers", UserPoolId=POOL)[1]["Users"] == []


def test_refusals_carry_cognitos_names(idp: CognitoIdp) -> None:
    add_user(idp, "ada", "viewer")
    assert call(idp, "AdminCreateUser", UserPoolId=POOL, Username="ADA")[1]["__type"] == (
        "UsernameExistsException"
    )
    assert call(idp, "AdminGetUser", UserPoolId=POOL, Username="bob")[1]["__type"] == (
        "UserNotFoundException"
    )
    assert call(idp, "AdminGetUser", UserPoolId="us-east-1_Nope", Username="ada")[1]["__type"] == (
        "ResourceNotFoundException"
    )
    assert (
        call(idp, "AdminAddUserToGroup", UserPoolId=POOL, Username="ada", GroupName="admins")[1][
            "__type"
        ]
        == "ResourceNotFoundException"
    )
    weak = call(idp, "AdminSetUserPassword", UserPoolId=POOL, Username="ada", Password="short1!A")
    assert weak[1]["__type"] == "InvalidPasswordException"
    wrong, unknown = sign_in(idp, "ada", PASSWORD + "x"), sign_in(idp, "bob")
    assert (
        wrong
        == unknown
        == (400, {"__type": "NotAuthorizedException", "message": "Incorrect username or password."})
    )
    bad_client = call(
        idp, "InitiateAuth", AuthFlow="USER_PASSWORD_AUTH", ClientId="nope",
        AuthParameters={"USERNAME": "ada", "PASSWORD": PASSWORD},
    )  # fmt: skip
    assert bad_client[1]["__type"] == "ResourceNotFoundException"
    srp = call(idp, "InitiateAuth", AuthFlow="USER_SRP_AUTH", ClientId=CLIENT, AuthParameters={})
    assert srp[1]["__type"] == "InvalidParameterException"
    assert idp.handle("CreateUserPool", {})[1]["__type"] == "UnknownOperationException"


def test_a_temporary_password_asks_for_a_new_one(idp: CognitoIdp) -> None:
    call(idp, "AdminCreateUser", UserPoolId=POOL, Username="new", TemporaryPassword=PASSWORD)
    status, result = sign_in(idp, "new")
    assert status == 200 and result["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in result


def test_tokens_expire_and_sign_out_revokes_all_of_them(idp: CognitoIdp) -> None:
    add_user(idp, "ada", "agent")
    first = sign_in(idp)[1]["AuthenticationResult"]["AccessToken"]
    second = sign_in(idp)[1]["AuthenticationResult"]["AccessToken"]
    assert call(idp, "GlobalSignOut", AccessToken=first)[0] == 200
    for token in (first, second):
        assert call(idp, "GetUser", AccessToken=token)[1]["message"] == (
            "Access Token has been revoked"
        )
    third = sign_in(idp)[1]["AuthenticationResult"]["AccessToken"]
    idp.now[0] += 3600  # type: ignore[attr-defined]
    assert call(idp, "GetUser", AccessToken=third)[1]["message"] == "Access Token has expired"


def test_passwords_and_tokens_are_stored_hashed(idp: CognitoIdp, tmp_path: Path) -> None:
    add_user(idp, "ada", "agent")
    token = sign_in(idp)[1]["AuthenticationResult"]["AccessToken"]
    raw = b"".join(
        str(row).encode()
        for table in ("users", "tokens")
        for row in sqlite3.connect(tmp_path / "cognito.db").execute(f"SELECT * FROM {table}")
    )
    assert PASSWORD.encode() not in raw and token.encode() not in raw
    assert b"scrypt$" in raw


def test_list_users_pages(idp: CognitoIdp) -> None:
    for name in ("a", "b", "c"):
        call(idp, "AdminCreateUser", UserPoolId=POOL, Username=name)
    first = call(idp, "ListUsers", UserPoolId=POOL, Limit=2)[1]
    rest = call(idp, "ListUsers", UserPoolId=POOL, PaginationToken=first["PaginationToken"])[1]
    assert [u["Username"] for u in first["Users"] + rest["Users"]] == ["a", "b", "c"]
    assert "PaginationToken" not in rest


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Aa1!aaaaaaaaa", "Password not long enough"),
        ("AA1!AAAAAAAAAA", "Password must have lowercase characters"),
        ("aa1!aaaaaaaaaa", "Password must have uppercase characters"),
        ("Aa!!aaaaaaaaaa", "Password must have numeric characters"),
        ("Aa11aaaaaaaaaa", "Password must have symbol characters"),
        ("Aa1!aaaaaaaaaa", None),
    ],
)
def test_the_templates_password_policy(password: str, problem: str | None) -> None:
    assert password_problem(password, PasswordPolicy(minimum_length=14)) == problem


def test_a_sign_in_link_works_once_and_only_the_newest(idp: CognitoIdp) -> None:
    assert idp.ensure_user(POOL, "admin", "agent") is True
    assert idp.ensure_user(POOL, "admin", "agent") is False
    old = idp.create_sign_in_link(POOL, "admin", CLIENT)
    code = idp.create_sign_in_link(POOL, "admin", CLIENT)
    assert idp.redeem_sign_in_code(old) is None
    tokens = idp.redeem_sign_in_code(code)
    assert tokens is not None
    assert call(idp, "GetUser", AccessToken=tokens["AccessToken"])[1]["Username"] == "admin"
    assert idp.redeem_sign_in_code(code) is None
    assert idp.redeem_sign_in_code("made-up") is None


# --- over HTTP: which operations need a signature ---


@pytest.fixture
def endpoint(idp: CognitoIdp) -> Iterator[str]:
    app = load_application(REPO / "template.yaml")
    server = make_server(Runtime(app, None, None, None, REPO / "web", cognito=idp), "127.0.0.1", 0)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def post(
    endpoint: str,
    operation: str,
    body: dict[str, Any],
    content_type: str = "application/x-amz-json-1.1",
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        endpoint + "/",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": content_type,
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_admin_operations_need_a_signature_public_ones_do_not(endpoint: str) -> None:
    status, body = post(endpoint, "ListUsers", {"UserPoolId": POOL})
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    status, body = post(endpoint, "GetUser", {"AccessToken": "nope"})
    assert (status, body["__type"]) == (400, "NotAuthorizedException")
    status, body = post(endpoint, "GetUser", {"AccessToken": "nope"}, "application/x-amz-json-1.0")
    assert status == 415


def test_the_shape_check_sees_a_stray_member_a_missing_one_and_a_wrong_type() -> None:
    shape = MODEL.operation_model("InitiateAuth").output_shape
    assert conforms({"Stray": 1}, shape, "x") == ["x.Stray: not in the model"]
    user = MODEL.operation_model("GetUser").output_shape
    assert conforms({"UserAttributes": []}, user, "u") == ["u.Username: required"]
    assert conforms({"Username": 5, "UserAttributes": []}, user, "u") == [
        "u.Username: 5 is not a string"
    ]
