"""The identity port's contract, run against the in-memory fake and against the Cognito
adapter talking boto3's real `cognito-idp` client to the local runtime's cognito-idp over HTTP
(the same path as on AWS but for the endpoint)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.runtime.cognito import CognitoIdp
from local.runtime.http_api import Runtime, make_server
from local.runtime.template import load_application
from optin.adapters.cognito_identity import CognitoIdentity
from optin.domain.session import (
    IdentityUnavailable,
    InvalidCredentials,
    PasswordChangeRequired,
    TokenRejected,
)
from optin.ports.identity import IdentityProvider
from tests.fakes.identity import FakeUser, MemoryIdentity
from tests.support.aws import local_client

REPO = Path(__file__).resolve().parents[2]
POOL = "us-east-1_ConsoleUserPool"
CLIENT = "ConsoleUserPoolClient"
PASSWORD = "Correct-Horse-7-battery"

# add(username, password, groups, temporary), expire_tokens(), stop_service()
Admin = tuple[Callable[[str, str, list[str], bool], None], Callable[[], None], Callable[[], None]]


def memory() -> Iterator[tuple[IdentityProvider, Admin]]:
    fake = MemoryIdentity()

    def add(name: str, password: str, groups: list[str], temporary: bool) -> None:
        fake.users[name] = FakeUser(password, groups, temporary)

    def expire() -> None:
        fake.now += fake.token_seconds + 1

    def stop() -> None:
        fake.down = True

    yield fake, (add, expire, stop)


def cognito(tmp_path: Path) -> Iterator[tuple[IdentityProvider, Admin]]:
    app = load_application(REPO / "template.yaml")
    now = [1_800_000_000.0]
    idp = CognitoIdp(tmp_path / "cognito.db", app.user_pools.values(), clock=lambda: now[0])
    runtime = Runtime(app, None, None, None, REPO / "web", cognito=idp)  # type: ignore[arg-type]
    server = make_server(runtime, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    admin_client = local_client("cognito-idp", endpoint)

    def add(name: str, password: str, groups: list[str], temporary: bool) -> None:
        # What `python -m local users add` does, through the same signed Admin* calls.
        admin_client.admin_create_user(
            UserPoolId=POOL, Username=name, MessageAction="SUPPRESS", TemporaryPassword=password
        )
        if not temporary:
            admin_client.admin_set_user_password(
                UserPoolId=POOL, Username=name, Password=password, Permanent=True
            )
        for group in groups:
            admin_client.admin_add_user_to_group(UserPoolId=POOL, Username=name, GroupName=group)

    def expire() -> None:
        now[0] += 3601

    stopped = threading.Event()

    def stop() -> None:
        server.shutdown()
        stopped.set()

    provider = CognitoIdentity(
        POOL, CLIENT, client_factory=lambda: local_client("cognito-idp", endpoint)
    )
    try:
        yield provider, (add, expire, stop)
    finally:
        if not stopped.is_set():
            server.shutdown()


@pytest.fixture(params=["memory", "cognito"])
def identity(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[IdentityProvider, Admin]]:
    made = memory() if request.param == "memory" else cognito(tmp_path)
    yield next(made)
    next(made, None)


def test_sign_in_gives_a_token_that_names_the_user(identity: tuple[Any, Admin]) -> None:
    provider, (add, _, _) = identity
    add("ada", PASSWORD, ["agent"], False)
    token = provider.sign_in("ada", PASSWORD)
    assert token.access_token and token.expires_in == 3600
    assert provider.user_of(token.access_token) == "ada"
    assert provider.groups_of("ada") == ["agent"]


def test_wrong_password_and_unknown_user_are_refused_alike(identity: tuple[Any, Admin]) -> None:
    provider, (add, _, _) = identity
    add("ada", PASSWORD, ["viewer"], False)
    with pytest.raises(InvalidCredentials) as wrong_password:
        provider.sign_in("ada", PASSWORD + "x")
    with pytest.raises(InvalidCredentials) as unknown_user:
        provider.sign_in("nobody", PASSWORD)
    assert wrong_password.value.message == unknown_user.value.message


def test_a_user_with_a_temporary_password_cannot_sign_in(identity: tuple[Any, Admin]) -> None:
    provider, (add, _, _) = identity
    add("new", PASSWORD, ["viewer"], True)
    with pytest.raises(PasswordChangeRequired):
        provider.sign_in("new", PASSWORD)


def test_a_user_in_no_group_has_no_groups(identity: tuple[Any, Admin]) -> None:
    provider, (add, _, _) = identity
    add("loner", PASSWORD, [], False)
    assert provider.groups_of("loner") == []
    with pytest.raises(TokenRejected):
        provider.groups_of("ghost")


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 2000])
def test_made_up_tokens_are_rejected(identity: tuple[Any, Admin], token: str) -> None:
    provider, _ = identity
    with pytest.raises(TokenRejected):
        provider.user_of(token)


def test_sign_out_ends_every_token_of_the_user(identity: tuple[Any, Admin]) -> None:
    provider, (add, _, _) = identity
    add("ada", PASSWORD, ["agent"], False)
    add("bob", PASSWORD, ["agent"], False)
    first = provider.sign_in("ada", PASSWORD).access_token
    second = provider.sign_in("ada", PASSWORD).access_token
    other = provider.sign_in("bob", PASSWORD).access_token
    provider.sign_out(first)
    for token in (first, second):
        with pytest.raises(TokenRejected):
            provider.user_of(token)
    assert provider.user_of(other) == "bob"
    with pytest.raises(TokenRejected):
        provider.sign_out(first)


def test_an_expired_token_is_rejected(identity: tuple[Any, Admin]) -> None:
    provider, (add, expire, _) = identity
    add("ada", PASSWORD, ["agent"], False)
    token = provider.sign_in("ada", PASSWORD).access_token
    expire()
    with pytest.raises(TokenRejected):
        provider.user_of(token)


def test_a_service_that_does_not_answer_is_unavailable_not_a_refusal(
    identity: tuple[Any, Admin],
) -> None:
    provider, (add, _, stop) = identity
    add("ada", PASSWORD, ["agent"], False)
    token = provider.sign_in("ada", PASSWORD).access_token
    stop()
    with pytest.raises(IdentityUnavailable):
        provider.user_of(token)
    with pytest.raises(IdentityUnavailable):
        provider.sign_in("ada", PASSWORD)
