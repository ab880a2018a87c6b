"""The console's sign-in on the local runtime, end to end over HTTP: the template's authorizer
runs before GET /console/api/session, the session function signs in and out through the
runtime's cognito-idp, the banner's one-time link signs the admin in once, and the users CLI
adds a viewer who then signs in as one."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.support.aws import local_client
from tests.support.console import (
    PASSWORD,
    POOL,
    SESSION,
    add_user,
    own,
    request,
    sign_in,
    token_of,
)
from tests.support.runtime import REPO_ROOT, LocalRuntime


@pytest.fixture(scope="module")
def rt(shared_runtime: LocalRuntime) -> LocalRuntime:
    return shared_runtime


def flags_of(set_cookie: str) -> set[str]:
    return {part.strip() for part in set_cookie.split(";")[1:]}


def who(rt: LocalRuntime, token: str) -> tuple[int, Any]:
    status, _, body = request(rt, "GET", SESSION, headers={"Cookie": f"console_session={token}"})
    return status, body


def banner_link(rt: LocalRuntime) -> str:
    links = re.findall(r"sign in once +(http://\S+)", rt.log())
    assert links, rt.log()
    return str(links[-1])


def test_without_a_cookie_the_console_api_answers_401(rt: LocalRuntime) -> None:
    for headers in ({}, {"Cookie": "other=1"}, {"Cookie": "console_session=made-up"}):
        status, response_headers, body = request(rt, "GET", SESSION, headers=headers)
        assert status == 401, headers
        assert body == {
            "error": {"code": "unauthenticated", "message": "Sign in to use the support console."}
        }
        assert response_headers["cache-control"] == "no-store"


def test_sign_in_read_the_role_sign_out(rt: LocalRuntime) -> None:
    add_user(rt, "agnes", "agent")
    status, body, headers = sign_in(rt, "agnes")
    assert (status, body) == (200, {"username": "agnes", "role": "agent"})
    cookie = headers["set-cookie"]
    # Plain HTTP locally: every flag but Secure (the unit tests show it over HTTPS).
    assert flags_of(cookie) == {"Path=/console/api", "Max-Age=3600", "HttpOnly", "SameSite=Strict"}
    token = token_of(cookie)
    assert who(rt, token) == (200, {"username": "agnes", "role": "agent"})

    status, headers, body = request(
        rt, "DELETE", SESSION, headers={**own(rt), "Cookie": f"console_session={token}"}
    )
    assert (status, body) == (200, {"signedOut": True})
    assert "Max-Age=0" in headers["set-cookie"]
    assert who(rt, token)[0] == 401
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="revoked"):
        local_client("cognito-idp", rt.base_url).get_user(AccessToken=token)
    # Neither the password nor the token is written to the runtime's log.
    assert PASSWORD not in rt.log() and token not in rt.log()


def test_a_viewer_signs_in_as_viewer_and_a_user_in_no_group_is_refused(rt: LocalRuntime) -> None:
    add_user(rt, "vera", "viewer")
    add_user(rt, "nogroup")
    status, body, _ = sign_in(rt, "VERA")  # user names are not case-sensitive in this pool
    assert (status, body) == (200, {"username": "vera", "role": "viewer"})
    status, body, headers = sign_in(rt, "nogroup")
    assert (status, body["error"]["code"]) == (403, "no_role")
    assert "set-cookie" not in headers


def test_losing_the_role_after_sign_in_is_a_403_from_the_authorizer(rt: LocalRuntime) -> None:
    add_user(rt, "temp", "agent")
    token = token_of(sign_in(rt, "temp")[2]["set-cookie"])
    local_client("cognito-idp", rt.base_url).admin_remove_user_from_group(
        UserPoolId=POOL, Username="temp", GroupName="agent"
    )
    status, body = who(rt, token)
    # The template's ACCESS_DENIED gateway response, filled from the Deny's context.
    assert status == 403
    assert body["error"]["code"] == "no_role" and "viewer or agent" in body["error"]["message"]


@pytest.mark.parametrize(
    ("password", "name"), [("wrong-Password-1", "agnes2"), (PASSWORD, "nobody")]
)
def test_wrong_credentials_are_401_without_saying_which(
    rt: LocalRuntime, password: str, name: str
) -> None:
    add_user(rt, "agnes2", "agent")
    status, body, headers = sign_in(rt, name, password)
    assert (status, body["error"]) == (
        401, {"code": "invalid_credentials", "message": "Wrong username or password."}
    )  # fmt: skip
    assert "set-cookie" not in headers


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-Type": "application/json"}, "cross_site_request"),  # no Origin
        ({"Content-Type": "text/plain"}, "cross_site_request"),
        ({"Origin": "http://127.0.0.1:1", "Content-Type": "application/json"}, None),
    ],
    ids=["no-origin", "text-plain", "other-origin"],
)
def test_sign_in_refused_unless_from_the_console_as_json(
    rt: LocalRuntime, headers: dict[str, str], code: str | None
) -> None:
    status, response_headers, body = request(
        rt, "POST", SESSION, raw=b'{"username": "agnes", "password": "x"}', headers=headers
    )
    assert status == 403
    # Another origin is stopped by the runtime's front door before the function runs.
    assert body["error"]["code"] == (code or "cross_origin_refused")
    assert "set-cookie" not in response_headers


@pytest.mark.parametrize("raw", [b"{nope", b"[]", b'{"username": "a"}'])
def test_bad_sign_in_bodies_are_400(rt: LocalRuntime, raw: bytes) -> None:
    status, _, body = request(rt, "POST", SESSION, raw=raw, headers=own(rt))
    assert status == 400 and body["error"]["message"]


def get_raw(rt: LocalRuntime, path: str) -> tuple[int, dict[str, str], str]:
    """A GET whose redirect is not followed."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", rt.port, timeout=10)
    connection.request("GET", path)
    answer = connection.getresponse()
    body = answer.read().decode()
    return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body


def test_the_one_time_link_signs_the_admin_in_once(rt: LocalRuntime) -> None:
    link = banner_link(rt).removeprefix(rt.base_url)
    status, headers, _ = get_raw(rt, link)
    assert (status, headers["location"]) == (303, "/console/")
    assert who(rt, token_of(headers["set-cookie"])) == (200, {"username": "admin", "role": "agent"})
    status, headers, page = get_raw(rt, link)
    assert status == 410 and "already been used" in page
    assert "set-cookie" not in headers
    assert get_raw(rt, "/sandbox/sign-in/made-up")[0] == 410


def test_the_links_cookie_is_the_sign_in_cookie_and_users_survive_a_restart(
    tmp_path: Any,
) -> None:
    with LocalRuntime(tmp_path / "rt") as rt:
        link = banner_link(rt).removeprefix(rt.base_url)
        cookie = get_raw(rt, link)[1]["set-cookie"]
        add_user(rt, "pat", "viewer")
        assert flags_of(cookie) == flags_of(sign_in(rt, "pat")[2]["set-cookie"])

        # A restart keeps users and tokens and prints a new link; the old one no longer works.
        rt.restart()
        assert who(rt, token_of(cookie)) == (200, {"username": "admin", "role": "agent"})
        assert banner_link(rt).removeprefix(rt.base_url) != link
        assert get_raw(rt, link)[0] == 410


def users_cli(rt: LocalRuntime, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "users", "--endpoint-url", rt.base_url, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_users_cli_adds_a_viewer_who_signs_in_as_viewer(rt: LocalRuntime) -> None:
    added = users_cli(rt, "add", "carol", "--role", "viewer")
    assert added.returncode == 0, added.stderr
    password = re.search(r"shown once[^:]*: (\S+)", added.stdout)
    assert password, added.stdout
    assert sign_in(rt, "carol", password[1])[:2] == (200, {"username": "carol", "role": "viewer"})

    listed = users_cli(rt, "list")
    assert re.search(r"^carol +viewer +CONFIRMED$", listed.stdout, re.M), listed.stdout
    assert re.search(r"^admin +agent +CONFIRMED$", listed.stdout, re.M), listed.stdout

    reset = users_cli(rt, "set-password", "carol")
    new_password = re.search(r"shown once[^:]*: (\S+)", reset.stdout)
    assert reset.returncode == 0 and new_password and new_password[1] != password[1]
    assert sign_in(rt, "carol", password[1])[0] == 401
    assert sign_in(rt, "carol", new_password[1])[0] == 200

    again = users_cli(rt, "add", "carol", "--role", "agent")
    assert again.returncode == 1 and "UsernameExistsException" in again.stderr

    assert users_cli(rt, "remove", "carol").returncode == 0
    assert sign_in(rt, "carol", new_password[1])[0] == 401
    gone = users_cli(rt, "remove", "carol")
    assert gone.returncode == 1 and "UserNotFoundException" in gone.stderr
    # The password is printed once to the person, never written to the runtime's log.
    assert password[1] not in rt.log() and new_password[1] not in rt.log()


def test_the_users_cli_without_a_runtime_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "local", "users", "--endpoint-url", "http://127.0.0.1:9", "list"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1 and "no runtime answers" in result.stderr
