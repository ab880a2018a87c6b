"""Signing in to the console on a local runtime, as its own page does."""

from __future__ import annotations

import re
from typing import Any

from tests.support.aws import local_client
from tests.support.runtime import LocalRuntime

POOL = "us-east-1_ConsoleUserPool"
PASSWORD = "Correct-Horse-7-battery"
SESSION = "/console/api/session"


def add_user(rt: LocalRuntime, name: str, *groups: str) -> None:
    admin = local_client("cognito-idp", rt.base_url)
    try:
        admin.admin_create_user(UserPoolId=POOL, Username=name, MessageAction="SUPPRESS")
    except admin.exceptions.UsernameExistsException:
        return  # made by an earlier case of the same test
    admin.admin_set_user_password(UserPoolId=POOL, Username=name, Password=PASSWORD, Permanent=True)
    for group in groups:
        admin.admin_add_user_to_group(UserPoolId=POOL, Username=name, GroupName=group)


def request(
    rt: LocalRuntime, method: str, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    """rt.request with header names in lower case, as the runtime sends them."""
    status, headers, parsed = rt.request(method, path, body, **kwargs)
    return status, {k.lower(): v for k, v in headers.items()}, parsed


def own(rt: LocalRuntime) -> dict[str, str]:
    """What the console's own page sends with a state-changing request."""
    return {"Origin": rt.base_url, "Content-Type": "application/json"}


def sign_in(
    rt: LocalRuntime, name: str, password: str = PASSWORD
) -> tuple[int, Any, dict[str, str]]:
    status, headers, body = request(
        rt, "POST", SESSION, {"username": name, "password": password}, headers=own(rt)
    )
    return status, body, headers


def token_of(set_cookie: str) -> str:
    found = re.match(r"console_session=([^;]+);", set_cookie)
    assert found, set_cookie
    return found[1]


def cookie_for(rt: LocalRuntime, name: str, group: str) -> dict[str, str]:
    """A user in `group` signed in: the Cookie header the console's page would send."""
    add_user(rt, name, group)
    status, body, headers = sign_in(rt, name)
    assert status == 200, body
    return {"Cookie": f"console_session={token_of(headers['set-cookie'])}"}
