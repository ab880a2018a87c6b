"""The Lambda zip is the code the tests ran: every runtime requirement, and everything it pulls
in, pinned exactly in functions/requirements.txt at constraints.txt's version.

`sam build` takes no constraints file, so an unpinned transitive package (botocore, through
aws-xray-sdk) would be whatever PyPI has that day, beside the older boto3 Lambda bundles.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.build.cfn import ROOT

RUNTIME = ROOT / "functions" / "requirements.txt"
CONSTRAINTS = ROOT / "constraints.txt"
SAM_REQUIREMENTS = ROOT / "tools" / "sam" / "requirements.txt"
SAM_CONSTRAINTS = ROOT / "tools" / "sam" / "constraints.txt"


def requirement_lines(text: str) -> list[Requirement]:
    reqs = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            reqs.append(Requirement(line))
    return reqs


def exact_pins(reqs: Iterable[Requirement]) -> dict[str, str]:
    """name -> version; ValueError for anything that is not `name==version`."""
    pins: dict[str, str] = {}
    for req in reqs:
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
            raise ValueError(f"{req} is not pinned to one exact version (name==version)")
        name = canonicalize_name(req.name)
        if name in pins:
            raise ValueError(f"{req.name} is listed twice")
        pins[name] = specs[0].version
    return pins


def pin_mismatches(pins: dict[str, str], constraints: dict[str, str]) -> list[str]:
    problems = []
    for name, version in sorted(pins.items()):
        if name not in constraints:
            problems.append(f"{name}=={version} is not in constraints.txt")
        elif constraints[name] != version:
            problems.append(f"{name}=={version} but constraints.txt has {constraints[name]}")
    return problems


def closure(reqs: Iterable[Requirement]) -> set[str]:
    """Every distribution the requirements need on this interpreter, with their extras, read
    from the installed metadata (the dev venv holds the same versions)."""
    needed: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(req.name, frozenset(req.extras)) for req in reqs]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        needed.add(canonicalize_name(name))
        environments = [dict(default_environment(), extra=e) for e in (extras or {""})]
        for line in metadata.requires(name) or []:
            dep = Requirement(line)
            if dep.marker is None or any(dep.marker.evaluate(env) for env in environments):
                todo.append((dep.name, frozenset(dep.extras)))
    return needed


def read_pins(path: Path) -> dict[str, str]:
    return exact_pins(requirement_lines(path.read_text()))


def test_every_runtime_requirement_is_pinned_as_in_constraints() -> None:
    pins = read_pins(RUNTIME)
    assert not pin_mismatches(pins, read_pins(CONSTRAINTS))
    # The reason for the whole file: the zip carries its own boto3 and botocore, in step.
    assert pins["boto3"] == pins["botocore"]


def test_everything_the_runtime_pulls_in_is_pinned_too() -> None:
    reqs = requirement_lines(RUNTIME.read_text())
    pins = exact_pins(reqs)
    unpinned = closure(reqs) - set(pins)
    assert not unpinned, f"add to functions/requirements.txt (and constraints.txt): {unpinned}"
    installed = {name: metadata.version(name) for name in pins}
    assert installed == pins, "the dev venv is not at functions/requirements.txt's versions"


def test_the_sam_cli_is_pinned_in_its_own_constraints() -> None:
    wanted = requirement_lines(SAM_REQUIREMENTS.read_text())
    pins = read_pins(SAM_CONSTRAINTS)
    assert wanted, "tools/sam/requirements.txt names nothing"
    assert {canonicalize_name(r.name) for r in wanted} <= set(pins)


@pytest.mark.parametrize(
    "line", ["boto3", "boto3>=1.44", "boto3~=1.44.0", "boto3==1.*", "boto3>=1,<2"]
)
def test_a_loose_pin_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="exact version"):
        exact_pins(requirement_lines(line))


def test_a_name_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        exact_pins(requirement_lines("PyYAML==6.0.4\npyyaml==6.0.4"))


def test_a_pin_that_differs_from_constraints_is_reported() -> None:
    constraints = {"boto3": "1.44.8", "botocore": "1.44.8"}
    assert pin_mismatches({"boto3": "1.44.8"}, constraints) == []
    assert pin_mismatches({"boto3": "1.43.0"}, constraints) == [
        "boto3==1.43.0 but constraints.txt has 1.44.8"
    ]
    assert pin_mismatches({"moto": "5.2.5"}, constraints) == [
        "moto==5.2.5 is not in constraints.txt"
    ]


def test_the_closure_follows_extras_and_skips_other_extras() -> None:
    # powertools' tracer extra brings aws-xray-sdk and with it botocore; without the extra
    # neither comes (the reason the extra's packages need pins of their own).
    with_tracer = closure(requirement_lines("aws-lambda-powertools[tracer]"))
    bare = closure(requirement_lines("aws-lambda-powertools"))
    assert {"aws-xray-sdk", "botocore"} <= with_tracer
    assert "aws-xray-sdk" not in bare
