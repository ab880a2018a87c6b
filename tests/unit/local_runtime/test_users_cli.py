"""`python -m local users` against an in-process runtime's cognito-idp: what it prints, that a
password it makes meets the template's policy, and that a refused password leaves no user."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from local import users
from local.runtime.cognito import CognitoIdp, password_problem
from local.runtime.http_api import Runtime, make_server
from local.runtime.template import load_application

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    app = load_application(REPO / "template.yaml")
    idp = CognitoIdp(tmp_path / "cognito.db", app.user_pools.values())
    server = make_server(Runtime(app, None, None, None, REPO / "web", cognito=idp), "127.0.0.1", 0)  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def cli(endpoint: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = users.main(["--endpoint-url", endpoint, *args], out, err)
    return code, out.getvalue(), err.getvalue()


def test_generated_passwords_meet_the_templates_policy() -> None:
    (pool,) = load_application(REPO / "template.yaml").user_pools.values()
    for _ in range(200):
        assert password_problem(users.generate_password(), pool.password_policy) is None


def test_add_list_and_a_role_per_user(endpoint: str) -> None:
    assert cli(endpoint, "add", "ana", "--role", "agent")[0] == 0
    assert cli(endpoint, "add", "vic", "--role", "viewer")[1].startswith("Added vic as viewer.")
    code, out, _ = cli(endpoint, "list")
    assert code == 0
    assert out.splitlines() == ["ana  agent      CONFIRMED", "vic  viewer     CONFIRMED"]


def test_a_typed_password_the_policy_refuses_leaves_no_user(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt="": "short")
    code, out, err = cli(endpoint, "add", "bob", "--prompt", "--role", "viewer")
    assert code == 1 and "InvalidPasswordException" in err
    assert "short" not in out + err
    assert cli(endpoint, "list")[1] == "No users.\n"


def test_two_different_typed_passwords_change_nothing(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = iter(["Correct-Horse-7-battery", "Correct-Horse-7-batterY"])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt="": next(typed))
    code, _, err = cli(endpoint, "add", "bob", "--prompt", "--role", "viewer")
    assert code == 2 and "differ" in err
    assert cli(endpoint, "list")[1] == "No users.\n"


def test_unknown_users_and_roles_are_refused(endpoint: str) -> None:
    code, _, err = cli(endpoint, "set-password", "ghost")
    assert code == 1 and "UserNotFoundException" in err
    with pytest.raises(SystemExit):
        users.parse_args(["add", "x", "--role", "admin"])
