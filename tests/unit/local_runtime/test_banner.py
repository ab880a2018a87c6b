"""The start-up banner: the parameters in force, and the line that makes `aws` and boto3 work."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from local.runtime.banner import Parameter, banner_lines, export_line, template_parameters
from local.runtime.server import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, aws_environment
from local.runtime.template import load_application

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = REPO_ROOT / "template.yaml"


def _lines(overrides: dict[str, str], external: str | None = None) -> list[str]:
    app = load_application(TEMPLATE, overrides, {})
    return banner_lines(
        endpoint="http://127.0.0.1:8123",
        app=app,
        parameters=template_parameters(TEMPLATE, overrides),
        stores=["SQLite /tmp/x/contacts.db"],
        data_dir=Path("/tmp/x"),
        export=export_line(REGION, ACCESS_KEY_ID, SECRET_ACCESS_KEY),
        external_stepfunctions=external,
    )


def _shown(lines: list[str]) -> dict[str, tuple[bool, str]]:
    """name -> (marked as overridden, value) for each parameter line of the banner."""
    start = lines.index("Template parameters (* = from --parameter-overrides):")
    out: dict[str, tuple[bool, str]] = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  ") or "=" not in line or line.strip().startswith("export"):
            break
        mark, rest = line[2], line[4:]
        name, value = (part.strip() for part in rest.split("=", 1))
        out[name] = (mark == "*", value)
    return out


def test_first_line_is_the_ready_marker_with_the_endpoint() -> None:
    assert _lines({})[0] == "Local runtime ready: http://127.0.0.1:8123/"


def test_every_template_parameter_is_shown_with_its_default() -> None:
    shown = _shown(_lines({}))
    assert list(shown) == [p.name for p in template_parameters(TEMPLATE, {})]
    assert len(shown) > 10
    assert shown["ConfirmationWindowSeconds"] == (False, "86400")
    assert shown["ProgramName"] == (False, "Acme Alerts")
    # An empty default is shown as such, not as a blank that looks like a missing line.
    assert shown["AlarmEmail"] == (False, '""')
    assert not any(marked for marked, _ in shown.values())


def test_an_override_is_shown_with_its_value_and_marked() -> None:
    shown = _shown(_lines({"ConfirmationWindowSeconds": "120", "ProgramName": "Beta Club"}))
    assert shown["ConfirmationWindowSeconds"] == (True, "120")
    assert shown["ProgramName"] == (True, "Beta Club")
    marked = sorted(name for name, (is_marked, _) in shown.items() if is_marked)
    assert marked == ["ConfirmationWindowSeconds", "ProgramName"]


def test_no_echo_parameters_are_not_printed(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        "Parameters:\n"
        "  Token:\n    Type: String\n    NoEcho: true\n    Default: s3cret\n"
        "  Name:\n    Type: String\n    Default: plain\n"
        "Resources: {}\n",
        encoding="utf-8",
    )
    params = template_parameters(template, {"Token": "other-secret"})
    assert params == [
        Parameter("Token", "other-secret", overridden=True, secret=True),
        Parameter("Name", "plain", overridden=False),
    ]
    app = load_application(template, {}, {})
    text = "\n".join(
        banner_lines(
            endpoint="http://127.0.0.1:1",
            app=app,
            parameters=params,
            stores=[],
            data_dir=tmp_path,
            export="export X=1",
        )
    )
    assert "secret" not in text.replace("AWS_SECRET", "")
    assert "* Token = ****" in text


def test_the_export_line_sets_what_the_handlers_get() -> None:
    lines = _lines({})
    export = [line.strip() for line in lines if line.strip().startswith("export ")]
    assert len(export) == 1
    words = shlex.split(export[0])
    assert words[0] == "export"
    assigned = dict(word.split("=", 1) for word in words[1:])
    # The same values the runtime gives its own handlers' boto3, so both are accepted alike.
    handler_env = aws_environment("http://127.0.0.1:1")
    assert assigned == {
        "AWS_DEFAULT_REGION": handler_env["AWS_DEFAULT_REGION"],
        "AWS_ACCESS_KEY_ID": handler_env["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": handler_env["AWS_SECRET_ACCESS_KEY"],
    }


@pytest.mark.parametrize(("external", "shown"), [(None, False), ("http://127.0.0.1:8083", True)])
def test_the_invoke_api_is_listed_only_with_an_external_step_functions(
    external: str | None, shown: bool
) -> None:
    text = "\n".join(_lines({}, external))
    assert ("/2015-03-31/functions/<name>/invocations" in text) is shown
    assert ("Step Functions   http://127.0.0.1:8083 (external)" in text) is shown


def test_routes_and_state_machines_come_from_the_template() -> None:
    text = "\n".join(_lines({}))
    assert "API POST   /signups" in text
    # The partner API's routes say they need a key; the public form's do not.
    assert "API POST   /v1/signups                  → PartnerApiFunction (API key)" in text
    assert "/signups                     → SignupFunction\n" in text
    assert "stateMachine:RegistrationStateMachine" in text
    assert "contacts         SQLite /tmp/x/contacts.db" in text


def test_warnings_come_last_where_they_stay_in_view() -> None:
    app = load_application(TEMPLATE, {}, {})
    lines = banner_lines(
        endpoint="http://0.0.0.0:8000",
        app=app,
        parameters=[],
        stores=[],
        data_dir=Path("/tmp/x"),
        export="export X=1",
        warnings=["listening on 0.0.0.0: reachable from other machines"],
    )
    assert lines[-1] == "WARNING: listening on 0.0.0.0: reachable from other machines"
    assert not any(line.startswith("WARNING") for line in _lines({}))


def test_the_console_and_its_one_time_sign_in_link_are_shown_only_when_there_is_one() -> None:
    app = load_application(TEMPLATE, {}, {})
    common = {
        "endpoint": "http://127.0.0.1:8123",
        "app": app,
        "parameters": [],
        "stores": [],
        "data_dir": Path("/tmp/x"),
        "export": "export X=1",
    }
    link = "http://127.0.0.1:8123/sandbox/sign-in/abc"
    lines = banner_lines(**common, console_sign_in=link)  # type: ignore[arg-type]
    assert "  support console  http://127.0.0.1:8123/console/" in lines
    assert f"  sign in once     {link}" in lines
    assert not any("sign in once" in line for line in banner_lines(**common))  # type: ignore[arg-type]
