"""Mocked service integrations: Step Functions Local's MockConfigFile format.

    {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<TaskState>": "<response>"}}}},
     "MockedResponses": {"<response>": {"0": {"Return": ...}, "1-2": {"Throw": {...}}}}}

An execution started on `<stateMachineArn>#<case>` answers the Task states its test case names
with the mocked responses instead of calling the integration; other states run for real.
Responses are keyed by invocation number ("0" is the first call, each retry adds one) or an
inclusive range ("1-2"). See README.md, "Mocked service integrations", for the semantics and
where AWS's documentation is silent.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import re
from dataclasses import dataclass
from typing import Any

TOP_LEVEL = ("StateMachines", "MockedResponses")
_KEY = re.compile(r"^(\d+)(?:-(\d+))?$")


class MockConfigError(ValueError):
    """The mock configuration is not valid; the message says where and why."""


class UnknownTestCase(LookupError):
    """StartExecution named a test case the mock configuration does not define."""


@dataclass(frozen=True)
class Step:
    """One entry of a mocked response: invocations first..last answer with Return or Throw."""

    first: int
    last: int
    kind: str  # "Return" | "Throw"
    value: Any = None  # the Return value
    error: str | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "kind": self.kind,
            "value": self.value,
            "error": self.error,
            "cause": self.cause,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Step:
        return cls(**doc)


@dataclass(frozen=True)
class MockedState:
    """What one Task state of a test case answers with: the named response's steps."""

    response: str
    steps: tuple[Step, ...]

    def step_for(self, invocation: int) -> Step | None:
        """The step covering this invocation number; None when the response defines none."""
        for step in self.steps:
            if step.first <= invocation <= step.last:
                return step
        return None

    def to_json(self) -> dict[str, Any]:
        return {"response": self.response, "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> MockedState:
        return cls(doc["response"], tuple(Step.from_json(s) for s in doc["steps"]))


def _where(*parts: str) -> str:
    return "".join(f"[{json.dumps(p)}]" for p in parts)


def _parse_key(key: str, where: str) -> tuple[int, int]:
    m = _KEY.match(key)
    if not m:
        raise MockConfigError(
            f'{where}: invocation key {key!r} must be a number such as "0" or an inclusive '
            f'range such as "1-2"'
        )
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if last < first:
        raise MockConfigError(f"{where}: range {key!r} ends before it starts")
    return first, last


def _parse_step(key: str, body: Any, where: str) -> Step:
    first, last = _parse_key(key, where)
    where = f"{where}{_where(key)}"
    if not isinstance(body, dict):
        raise MockConfigError(f'{where}: must be an object with "Return" or "Throw"')
    fields = set(body)
    if fields not in ({"Return"}, {"Throw"}):
        raise MockConfigError(
            f'{where}: must have exactly one field, "Return" or "Throw" (found '
            f"{sorted(fields) or 'none'})"
        )
    if "Return" in body:
        return Step(first, last, "Return", value=body["Return"])
    throw = body["Throw"]
    # AWS: "The value of Throw must be an object containing an Error and Cause fields with
    # string values."
    if not isinstance(throw, dict) or set(throw) != {"Error", "Cause"}:
        raise MockConfigError(f'{where}["Throw"]: must be an object with "Error" and "Cause"')
    if not isinstance(throw["Error"], str) or not throw["Error"]:
        raise MockConfigError(f'{where}["Throw"]["Error"]: must be a non-empty string')
    if not isinstance(throw["Cause"], str):
        raise MockConfigError(f'{where}["Throw"]["Cause"]: must be a string')
    return Step(first, last, "Throw", error=throw["Error"], cause=throw["Cause"])


def _parse_response(name: str, body: Any) -> tuple[Step, ...]:
    where = f"MockedResponses{_where(name)}"
    if not isinstance(body, dict):
        raise MockConfigError(f"{where}: must be an object keyed by invocation number")
    steps = sorted((_parse_step(k, v, where) for k, v in body.items()), key=lambda s: s.first)
    for before, after in itertools.pairwise(steps):
        # Overlaps would make the answer depend on key order; gaps are allowed and fail the
        # execution when reached (as Step Functions Local does for a missing invocation).
        if after.first <= before.last:
            raise MockConfigError(
                f"{where}: invocation {after.first} is covered by two entries "
                f"({before.first}-{before.last} and {after.first}-{after.last})"
            )
    return tuple(steps)


class MockConfig:
    """A parsed, validated mock configuration."""

    def __init__(self, doc: Any, source: str = "mock configuration") -> None:
        self.source = source
        try:
            self._parse(doc)
        except MockConfigError as e:
            raise MockConfigError(f"{source}: {e}") from None

    @classmethod
    def load(cls, source: pathlib.Path | str | dict[str, Any] | MockConfig) -> MockConfig:
        """From a file path, an already parsed document or a MockConfig."""
        if isinstance(source, MockConfig):
            return source
        if isinstance(source, dict):
            return cls(source)
        path = pathlib.Path(source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise MockConfigError(f"{path}: cannot read the mock configuration: {e}") from e
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise MockConfigError(f"{path}: not valid JSON: {e}") from e
        return cls(doc, str(path))

    def _parse(self, doc: Any) -> None:
        if not isinstance(doc, dict):
            raise MockConfigError(
                'must be a JSON object with "StateMachines" and "MockedResponses"'
            )
        unknown = sorted(set(doc) - set(TOP_LEVEL))
        if unknown:
            # A misspelt key (AWS's own prose says "MockedResponse") would otherwise silently
            # leave every state unmocked.
            raise MockConfigError(
                f"unknown top-level field(s) {unknown}; expected {list(TOP_LEVEL)}"
            )
        machines = doc.get("StateMachines", {})
        responses = doc.get("MockedResponses", {})
        if not isinstance(machines, dict):
            raise MockConfigError('"StateMachines" must be an object keyed by state machine name')
        if not isinstance(responses, dict):
            raise MockConfigError('"MockedResponses" must be an object keyed by response name')
        self.responses: dict[str, tuple[Step, ...]] = {
            name: _parse_response(name, body) for name, body in responses.items()
        }
        self.test_cases: dict[str, dict[str, dict[str, str]]] = {}
        for sm_name, sm in machines.items():
            where = f"StateMachines{_where(sm_name)}"
            if not isinstance(sm, dict) or set(sm) != {"TestCases"}:
                raise MockConfigError(f'{where}: must be an object with one field, "TestCases"')
            cases = sm["TestCases"]
            if not isinstance(cases, dict):
                raise MockConfigError(f'{where}["TestCases"]: must be an object keyed by name')
            self.test_cases[sm_name] = {}
            for case_name, case in cases.items():
                case_where = f'{where}["TestCases"]{_where(case_name)}'
                if not isinstance(case, dict):
                    raise MockConfigError(
                        f"{case_where}: must map Task state names to mocked response names"
                    )
                for state, response in case.items():
                    if not isinstance(response, str):
                        raise MockConfigError(
                            f"{case_where}{_where(state)}: must be the name of a mocked response"
                        )
                    if response not in self.responses:
                        raise MockConfigError(
                            f"{case_where}{_where(state)}: mocked response {response!r} is not "
                            f"defined in MockedResponses"
                        )
                self.test_cases[sm_name][case_name] = dict(case)

    def test_case(self, state_machine: str, test_case: str) -> dict[str, MockedState]:
        """The mocked states of a test case; raises UnknownTestCase with a readable message."""
        cases = self.test_cases.get(state_machine)
        if cases is None:
            raise UnknownTestCase(
                f"The mock configuration ({self.source}) has no test cases for state machine "
                f"'{state_machine}'"
            )
        case = cases.get(test_case)
        if case is None:
            known = ", ".join(sorted(cases)) or "none"
            raise UnknownTestCase(
                f"Test case '{test_case}' is not defined for state machine '{state_machine}' "
                f"in the mock configuration ({self.source}); defined: {known}"
            )
        return {
            state: MockedState(response, self.responses[response])
            for state, response in case.items()
        }

    def lookup(
        self, state_machine: str, test_case: str, state: str, invocation: int
    ) -> Step | None:
        """The step answering that invocation of that state; None when nothing answers it
        (the state is not mocked, or its response defines no entry for that invocation)."""
        mocked = self.test_case(state_machine, test_case).get(state)
        return mocked.step_for(invocation) if mocked else None
