"""StepFunctionsService: the Step Functions API operations over the durable store. The runs
they start are stepped by the scheduler (scheduler.py: workers, Lambda calls, timer thread)."""

from __future__ import annotations

import json
import pathlib
import time
import uuid
from typing import Any

from . import arns, map_runs, paging, redrive, tags, versions
from .activities import Activities, ActivityPolls
from .clock import Clock, SystemClock
from .engine import Effects, Engine, Scheduler
from .errors import ApiError, StatesError
from .express import EXPRESS, ExpressExecutions, check_included_data, type_not_supported
from .invoker import LambdaInvoker
from .mocks import MockConfig, UnknownTestCase
from .records import Execution
from .scheduler import RunScheduler
from .store import Store
from .test_state import run_test_state
from .validation import parse_checked
from .validation.api import validate_definition

MAX_INPUT_BYTES = 256 * 1024
# Threads that step runs. One: every step holds the store's lock from start to commit, so more
# workers never ran steps at once; they only woke for each StartExecution one by one and
# fought over the lock, where one busy worker finds the runs queued meanwhile and commits them
# together (measured: a third less server CPU per Pass/Choice execution). Lambda calls have
# their own pool and timers their own thread.
DEFAULT_WORKERS = 1
# Steps StartExecution takes itself, in its own transaction (Engine.step_inline): as many as a
# worker takes per commit, so the API thread holds the store no longer than a worker does.
STEPS_AT_START = 8


def _require(req: dict[str, Any], key: str) -> Any:
    if req.get(key) is None:
        raise ApiError("MissingRequiredParameter", f"Missing required parameter: {key}")
    return req[key]


# Length limits of the Step Functions API reference (characters), checked by the service
# itself: botocore checks some client-side, but a raw HTTP caller skips botocore.
MAX_TASK_TOKEN = 2048
MAX_TASK_OUTPUT = 262144
MAX_ERROR = 256
MAX_CAUSE = 32768
MAX_DEFINITION = 1048576


def _limit(req: dict[str, Any], key: str, maximum: int) -> None:
    """AWS's ValidationException for a member longer than the API allows."""
    value = req.get(key)
    if isinstance(value, str) and len(value) > maximum:
        raise ApiError(
            "ValidationException",
            f"1 validation error detected: Value at '{key}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {maximum}",
        )


class StepFunctionsService:
    def __init__(
        self,
        db_path: pathlib.Path,
        invoker: LambdaInvoker,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        workers: int = DEFAULT_WORKERS,
        mock_config: pathlib.Path | dict[str, Any] | MockConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        """mock_config: Step Functions Local's MockConfigFile (a path or the parsed document);
        executions started on `<stateMachineArn>#<TestCase>` use its mocked responses. A bad
        file raises MockConfigError here, before anything runs. clock: the real one unless a
        test gives a clock.ManualClock."""
        self.mock_config = MockConfig.load(mock_config) if mock_config is not None else None
        self.region = region
        self.account_id = account_id
        self.clock: Clock = clock or SystemClock()
        self.store = Store(pathlib.Path(db_path), self.clock)
        self.scheduler = RunScheduler(self.store, self.clock, workers)
        polls = ActivityPolls()
        self.engine = Engine(
            self.store,
            invoker,
            Scheduler(
                self.scheduler.enqueue,
                self.scheduler.submit_invoke,
                self.scheduler.timer_changed,
                polls.scheduled,
            ),
            region,
            account_id,
            self.clock,
        )
        self.scheduler.engine = self.engine
        self.activities = Activities(self.store, self.engine, self.clock, region, account_id, polls)
        self.express = ExpressExecutions(invoker, region, account_id, self.clock, workers)

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.activities.polls.stop()
        self.express.stop()
        self.scheduler.stop()
        self.store.close()

    # ---------------------------------------------------------------- state machines

    def _sm_row(self, conn: Any, arn: object) -> Any:
        # `#TestCase` picks a mocked test case (StartExecution); elsewhere it names the same
        # state machine, so Describe/List/Update/Delete accept it too.
        plain, _ = arns.split_test_case(arn)
        arns.parse_state_machine_arn(plain)
        row = self.store.state_machine(conn, plain)
        if row is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        return row

    def upsert_state_machine(self, name: str, definition: str, role_arn: str) -> str:
        """Create or update; running executions keep the definition they started with."""
        arns.check_name(name)
        parse_checked(definition)
        arn = arns.state_machine_arn(self.region, self.account_id, name)
        now = self.clock.now()
        with self.store.tx() as conn:
            if self.store.state_machine(conn, arn) is None:
                self.store.insert_state_machine(
                    conn, arn, name, definition, role_arn, "STANDARD", now, str(uuid.uuid4())
                )
            else:
                self.store.update_state_machine(
                    conn, arn, definition, role_arn, now, str(uuid.uuid4())
                )
        return arn

    def create_state_machine(self, req: dict[str, Any]) -> dict[str, Any]:
        name = arns.check_name(_require(req, "name"))
        _limit(req, "definition", MAX_DEFINITION)
        definition = _require(req, "definition")
        role = arns.check_role_arn(_require(req, "roleArn"))
        typ = req.get("type") or "STANDARD"
        if typ not in ("STANDARD", "EXPRESS"):
            raise ApiError("ValidationException", f"Invalid type: {typ}")
        parse_checked(definition, typ)
        arn = arns.state_machine_arn(self.region, self.account_id, name)
        initial_tags = tags.check_tags(req.get("tags") or [])
        tags.check_count(arn, initial_tags)
        publish = _publish_requested(req)
        now = self.clock.now()
        with self.store.tx() as conn:
            row = self.store.state_machine(conn, arn)
            if row is not None:
                if row["definition"] == definition and row["role_arn"] == role:
                    out = {"stateMachineArn": arn, "creationDate": row["created"]}
                    if publish:
                        out["stateMachineVersionArn"] = self._publish(
                            conn, row, req.get("versionDescription"), now
                        )
                    return out
                raise ApiError(
                    "StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'"
                )
            self.store.insert_state_machine(
                conn,
                arn,
                name,
                definition,
                role,
                typ,
                now,
                str(uuid.uuid4()),
                logging=json.dumps(req.get("loggingConfiguration") or None),
                tracing=json.dumps(req.get("tracingConfiguration") or None),
            )
            self.store.put_tags(conn, arn, initial_tags)
            out = {"stateMachineArn": arn, "creationDate": now}
            if publish:
                out["stateMachineVersionArn"] = self._publish(
                    conn, self.store.state_machine(conn, arn), req.get("versionDescription"), now
                )
        return out

    def describe_state_machine(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineArn")
        plain, _ = arns.split_test_case(arn)
        if isinstance(plain, str) and plain.count(":") == 7:
            return self._describe_version(plain)
        with self.store.read() as conn:
            row = self._sm_row(conn, arn)
        out = {
            "stateMachineArn": row["arn"],
            "name": row["name"],
            "status": "ACTIVE",
            "definition": row["definition"],
            "roleArn": row["role_arn"],
            "type": row["type"],
            "creationDate": row["created"],
            "loggingConfiguration": _json_or(row["logging"], _NO_LOGGING),
            "tracingConfiguration": _json_or(row["tracing"], _NO_TRACING),
            "revisionId": row["revision"],
        }
        return out

    def _describe_version(self, arn: str) -> dict[str, Any]:
        """DescribeStateMachine of a version ARN: the version's snapshot, under its own ARN."""
        sm_arn, number = versions.parse_version_arn(arn)
        with self.store.read() as conn:
            sm = self._sm_row(conn, sm_arn)
            version = self.store.version(conn, sm_arn, number)
        if version is None:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        out = {
            "stateMachineArn": arn,
            "name": sm["name"],
            "status": "ACTIVE",
            "definition": version["definition"],
            "roleArn": version["role_arn"],
            "type": version["type"],
            "creationDate": version["created"],
            "loggingConfiguration": _json_or(sm["logging"], _NO_LOGGING),
            "tracingConfiguration": _json_or(sm["tracing"], _NO_TRACING),
            "revisionId": version["revision"],
        }
        if version["description"] is not None:
            out["description"] = version["description"]
        return out

    def list_state_machines(self, req: dict[str, Any]) -> dict[str, Any]:
        page = paging.requested(req)
        with self.store.read() as conn:
            rows = self.store.list_state_machines(conn, page.fetch, page.offset)
        return page.answer(
            "stateMachines",
            rows,
            lambda r: {
                "stateMachineArn": r["arn"],
                "name": r["name"],
                "type": r["type"],
                "creationDate": r["created"],
            },
        )

    def update_state_machine(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineArn")
        _limit(req, "definition", MAX_DEFINITION)
        definition = req.get("definition")
        role = req.get("roleArn")
        if (
            definition is None
            and role is None
            and not req.get("loggingConfiguration")
            and not (req.get("tracingConfiguration"))
        ):
            raise ApiError(
                "MissingRequiredParameter",
                "Either the definition, the role ARN, the LoggingConfiguration, or the "
                "TracingConfiguration must be specified",
            )
        if role is not None:
            arns.check_role_arn(role)
        publish = _publish_requested(req)
        now = self.clock.now()
        revision = str(uuid.uuid4())
        out: dict[str, Any] = {"updateDate": now, "revisionId": revision}
        with self.store.tx() as conn:
            row = self._sm_row(conn, arn)
            if definition is not None:
                parse_checked(definition, row["type"])
            self.store.update_state_machine(
                conn,
                row["arn"],
                definition or row["definition"],
                role or row["role_arn"],
                now,
                revision,
            )
            if publish:
                out["stateMachineVersionArn"] = self._publish(
                    conn,
                    self.store.state_machine(conn, row["arn"]),
                    req.get("versionDescription"),
                    now,
                )
        return out

    def validate_state_machine_definition(self, req: dict[str, Any]) -> dict[str, Any]:
        return validate_definition(req)

    def test_state(self, req: dict[str, Any]) -> dict[str, Any]:
        return run_test_state(req, self.engine.invoker, self.region, self.account_id, self.clock)

    def delete_state_machine(self, req: dict[str, Any]) -> dict[str, Any]:
        arn, _ = arns.split_test_case(_require(req, "stateMachineArn"))
        arns.parse_state_machine_arn(arn)
        with self.store.tx() as conn:
            self.store.delete_state_machine(conn, arn)
        return {}

    # ---------------------------------------------------------------- versions and aliases

    def _publish(self, conn: Any, sm: Any, description: str | None, now: float) -> str:
        """The ARN of a version of the machine's current revision: the latest version when it
        already is one (AWS publishes a revision once), else a new one."""
        latest = self.store.latest_version(conn, sm["arn"])
        if latest is not None and latest["revision"] == sm["revision"]:
            if description is not None and description != latest["description"]:
                raise ApiError(
                    "ConflictException",
                    "Failed to publish the State Machine version: its latest revision is "
                    f"already published as version {latest['version']} with another "
                    "description",
                    409,
                )
            return versions.version_arn(sm["arn"], latest["version"])
        if self.store.count_versions(conn, sm["arn"]) >= versions.MAX_VERSIONS:
            raise ApiError(
                "ServiceQuotaExceededException",
                f"Exceeded the maximum of {versions.MAX_VERSIONS} versions of '{sm['arn']}'",
                402,
            )
        number = self.store.take_version_number(conn, sm["arn"])
        self.store.insert_version(conn, sm, number, description, now)
        return versions.version_arn(sm["arn"], number)

    def publish_state_machine_version(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineArn")
        description = versions.check_description(req, "description")
        now = self.clock.now()
        with self.store.tx() as conn:
            sm = self._sm_row(conn, arn)
            revision = req.get("revisionId")
            if revision is not None and revision != sm["revision"]:
                raise ApiError(
                    "ConflictException",
                    f"Failed to publish the State Machine version: revisionId '{revision}' is "
                    f"not the latest revision '{sm['revision']}'",
                    409,
                )
            version_arn = self._publish(conn, sm, description, now)
            # New or already there, the published version is the latest one.
            latest = self.store.latest_version(conn, sm["arn"])
            created = latest["created"] if latest is not None else now
        return {"stateMachineVersionArn": version_arn, "creationDate": created}

    def list_state_machine_versions(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineArn")
        arns.parse_state_machine_arn(arn)
        page = paging.requested(req)
        with self.store.read() as conn:
            rows = self.store.list_versions(conn, arn, page.fetch, page.offset)
        return page.answer(
            "stateMachineVersions",
            rows,
            lambda r: {
                "stateMachineVersionArn": versions.version_arn(arn, r["version"]),
                "creationDate": r["created"],
            },
        )

    def delete_state_machine_version(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineVersionArn")
        sm_arn, number = versions.parse_version_arn(arn)
        with self.store.tx() as conn:
            for alias in self.store.aliases(conn, sm_arn):
                routing = json.loads(alias["routing"])
                if any(r["stateMachineVersionArn"] == arn for r in routing):
                    raise ApiError(
                        "ConflictException",
                        f"Version to be deleted must not be referenced by an alias. Current "
                        f"list of aliases referencing this version: [{alias['name']}]",
                        409,
                    )
            self.store.delete_version(conn, sm_arn, number)
        return {}

    def _routing(self, conn: Any, routing: object) -> tuple[str, list[dict[str, Any]]]:
        """A routing configuration whose versions all exist."""
        sm_arn, items = versions.check_routing(routing)
        for item in items:
            _, number = versions.parse_version_arn(item["stateMachineVersionArn"])
            if self.store.version(conn, sm_arn, number) is None:
                raise _not_found(item["stateMachineVersionArn"])
        return sm_arn, items

    def create_state_machine_alias(self, req: dict[str, Any]) -> dict[str, Any]:
        name = versions.check_alias_name(_require(req, "name"))
        description = versions.check_description(req, "description")
        routing = _require(req, "routingConfiguration")
        now = self.clock.now()
        with self.store.tx() as conn:
            sm_arn, items = self._routing(conn, routing)
            arn = f"{sm_arn}:{name}"
            existing = self.store.alias(conn, arn)
            if existing is not None:
                if existing["description"] == description and (
                    json.loads(existing["routing"]) == items
                ):
                    return {"stateMachineAliasArn": arn, "creationDate": existing["created"]}
                raise ApiError(
                    "ConflictException",
                    f"Failed to create alias because an alias with the same name and a "
                    f"different routing configuration already exists: '{arn}'",
                    409,
                )
            if len(self.store.aliases(conn, sm_arn)) >= versions.MAX_ALIASES:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"Exceeded the maximum of {versions.MAX_ALIASES} aliases of '{sm_arn}'",
                    402,
                )
            self.store.insert_alias(conn, arn, sm_arn, name, description, items, now)
        return {"stateMachineAliasArn": arn, "creationDate": now}

    def _alias_row(self, conn: Any, arn: object) -> Any:
        versions.parse_alias_arn(arn)
        row = self.store.alias(conn, str(arn))
        if row is None:
            raise _not_found(str(arn))
        return row

    def describe_state_machine_alias(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._alias_row(conn, _require(req, "stateMachineAliasArn"))
        out = {
            "stateMachineAliasArn": row["arn"],
            "name": row["name"],
            "routingConfiguration": json.loads(row["routing"]),
            "creationDate": row["created"],
            "updateDate": row["updated"],
        }
        if row["description"] is not None:
            out["description"] = row["description"]
        return out

    def update_state_machine_alias(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "stateMachineAliasArn")
        description = versions.check_description(req, "description")
        routing = req.get("routingConfiguration")
        if description is None and routing is None:
            raise ApiError(
                "ValidationException",
                "Either the description or the RoutingConfiguration must be specified",
            )
        now = self.clock.now()
        with self.store.tx() as conn:
            row = self._alias_row(conn, arn)
            items = json.loads(row["routing"])
            if routing is not None:
                sm_arn, items = self._routing(conn, routing)
                if sm_arn != row["sm_arn"]:
                    raise ApiError(
                        "ValidationException",
                        "Routing configuration must contain versions of the alias's state machine",
                    )
            self.store.update_alias(
                conn,
                row["arn"],
                row["description"] if description is None else description,
                items,
                now,
            )
        return {"updateDate": now}

    def delete_state_machine_alias(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.tx() as conn:
            row = self._alias_row(conn, _require(req, "stateMachineAliasArn"))
            self.store.delete_alias(conn, row["arn"])
        return {}

    def list_state_machine_aliases(self, req: dict[str, Any]) -> dict[str, Any]:
        page = paging.requested(req)
        with self.store.read() as conn:
            sm = self._sm_row(conn, _require(req, "stateMachineArn"))
            rows = self.store.aliases(conn, sm["arn"])  # at most 100 a machine
        return page.answer(
            "stateMachineAliases",
            rows[page.offset : page.offset + page.fetch],
            lambda r: {"stateMachineAliasArn": r["arn"], "creationDate": r["created"]},
        )

    def _resolve_qualifier(self, conn: Any, sm_arn: str, qualifier: str) -> tuple[Any, str | None]:
        """(version row, alias ARN or None) that StartExecution runs for a qualified ARN."""
        alias_arn = None
        if qualifier.isdigit():
            number = int(qualifier)
        else:
            alias_arn = f"{sm_arn}:{qualifier}"
            alias = self.store.alias(conn, alias_arn)
            if alias is None:
                raise _not_found(alias_arn)
            _, number = versions.parse_version_arn(
                versions.pick_version(json.loads(alias["routing"]))
            )
        row = self.store.version(conn, sm_arn, number)
        if row is None:
            raise ApiError(
                "StateMachineDoesNotExist",
                f"State Machine Does Not Exist: '{versions.version_arn(sm_arn, number)}'",
            )
        return row, alias_arn

    # ---------------------------------------------------------------- tags

    def _tagged_resource(self, conn: Any, arn: object) -> str:
        """The ARN of a state machine or an activity that exists."""
        if arns.is_activity_arn(arn):
            found = self.store.activity(conn, arn) is not None
        else:
            arns.parse_state_machine_arn(arn)
            found = self.store.state_machine(conn, arn) is not None
        if not found:
            raise ApiError(
                "ResourceNotFound", f"Resource not found: '{arn}'", resourceName=str(arn)
            )
        return str(arn)

    def tag_resource(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "resourceArn")
        new = tags.check_tags(_require(req, "tags"))
        with self.store.tx() as conn:
            arn = self._tagged_resource(conn, arn)
            tags.check_count(arn, {**self.store.tags(conn, arn), **new})
            self.store.put_tags(conn, arn, new)
        return {}

    def untag_resource(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "resourceArn")
        keys = _require(req, "tagKeys")
        if not isinstance(keys, list):
            raise ApiError("ValidationException", "tagKeys must be a list of tag keys")
        keys = [tags.check_key(k, f"tagKeys.{i}.member") for i, k in enumerate(keys, 1)]
        with self.store.tx() as conn:
            arn = self._tagged_resource(conn, arn)
            self.store.remove_tags(conn, arn, keys)
        return {}

    def list_tags_for_resource(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _require(req, "resourceArn")
        with self.store.read() as conn:
            arn = self._tagged_resource(conn, arn)
            return {"tags": tags.as_list(self.store.tags(conn, arn))}

    # ---------------------------------------------------------------- executions

    def start_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        sm_arn, test_case = arns.split_test_case(_require(req, "stateMachineArn"))
        sm_arn, qualifier = arns.split_qualifier(sm_arn)
        name = req.get("name") or str(uuid.uuid4())
        arns.check_name(name)
        raw_input = _checked_input(req)
        fx = Effects()
        with self.store.tx() as conn:
            sm = self._sm_row(conn, sm_arn)
            mocked = self._mocked_states(sm["name"], test_case)
            if sm["type"] == EXPRESS:
                ex = self._new_execution(conn, sm, name, raw_input, qualifier)
                return self.express.start_async(ex, _test_case(test_case, mocked))
            arn = arns.execution_arn(self.region, self.account_id, sm["name"], name)
            existing = self.store.load_execution(conn, arn)
            if existing is not None:
                if existing.status == "RUNNING" and existing.input == raw_input:
                    return {"executionArn": arn, "startDate": existing.start}
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
            ex = self._new_execution(conn, sm, name, raw_input, qualifier)
            self.store.insert_execution(conn, ex, _test_case(test_case, mocked))
            self.engine.start_execution(conn, ex, fx, first_steps=STEPS_AT_START)
        self.engine.apply(fx)
        return {"executionArn": ex.arn, "startDate": ex.start}

    def start_sync_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        sm_arn, test_case = arns.split_test_case(_require(req, "stateMachineArn"))
        sm_arn, qualifier = arns.split_qualifier(sm_arn)
        name = req.get("name") or str(uuid.uuid4())
        arns.check_name(name)
        raw_input = _checked_input(req)
        included = check_included_data(req)
        with self.store.read() as conn:
            sm = self._sm_row(conn, sm_arn)
            if sm["type"] != EXPRESS:
                raise type_not_supported("StartSyncExecution", sm["type"])
            mocked = _test_case(test_case, self._mocked_states(sm["name"], test_case))
            ex = self._new_execution(conn, sm, name, raw_input, qualifier)
        return self.express.start_sync(ex, included, req.get("traceHeader"), mocked)

    def _new_execution(
        self, conn: Any, sm: Any, name: str, raw_input: str, qualifier: str | None
    ) -> Execution:
        """An execution of `sm` (of the version a qualifier picks) starting now."""
        ex = Execution(
            arn=arns.execution_arn(self.region, self.account_id, sm["name"], name),
            sm_arn=sm["arn"],
            sm_name=sm["name"],
            name=name,
            status="RUNNING",
            input=raw_input,
            start=self.clock.now(),
            definition=sm["definition"],
            role_arn=sm["role_arn"],
            sm_revision=sm["revision"],
            sm_updated=sm["updated"] or sm["created"],
        )
        if qualifier is not None:
            version, ex.alias_arn = self._resolve_qualifier(conn, sm["arn"], qualifier)
            ex.version_arn = versions.version_arn(sm["arn"], version["version"])
            ex.definition = version["definition"]
            ex.role_arn = version["role_arn"]
            ex.sm_revision = version["revision"]
            ex.sm_updated = version["created"]
        return ex

    def _mocked_states(self, sm_name: str, test_case: str | None) -> dict[str, Any] | None:
        """The JSON form of a test case's mocked states; None when no test case was asked for."""
        if test_case is None:
            return None
        if self.mock_config is None:
            raise ApiError(
                "ValidationException",
                f"Test case '{test_case}' was requested, but no mock configuration is loaded "
                "(give one with --mock-config or SFN_MOCK_CONFIG)",
            )
        try:
            states = self.mock_config.test_case(sm_name, test_case)
        except UnknownTestCase as e:
            raise ApiError("ValidationException", str(e)) from e
        return {state: mocked.to_json() for state, mocked in states.items()}

    def _exec_row(self, conn: Any, arn: str) -> Any:
        arns.parse_execution_arn(arn)
        row = self.store.execution_row(conn, arn)
        if row is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return row

    def describe_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.store.read() as conn:
            row = self._exec_row(conn, _plain_execution_arn(_require(req, "executionArn")))
            map_run = map_runs.execution_members(self.store, conn, row["arn"])
            redrive_fields = redrive.describe_fields(self.store, conn, row, self.clock.now())
        out: dict[str, Any] = {
            "executionArn": row["arn"],
            "stateMachineArn": row["sm_arn"],
            "name": row["name"],
            "status": row["status"],
            "startDate": row["start"],
            "input": row["input"],
            "inputDetails": {"included": True},
            **redrive_fields,
        }
        if row["stop"] is not None:
            out["stopDate"] = row["stop"]
        out.update(map_run)
        if row["version_arn"] is not None:
            out["stateMachineVersionArn"] = row["version_arn"]
        if row["alias_arn"] is not None:
            out["stateMachineAliasArn"] = row["alias_arn"]
        if row["output"] is not None:
            out["output"] = row["output"]
            out["outputDetails"] = {"included": True}
        if row["error"] is not None:
            out["error"] = row["error"]
        if row["cause"] is not None:
            out["cause"] = row["cause"]
        return out

    def describe_state_machine_for_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        """The definition the execution runs: fixed at its start, whatever updates came after."""
        with self.store.read() as conn:
            row = self._exec_row(conn, _plain_execution_arn(_require(req, "executionArn")))
            sm = self.store.state_machine(conn, row["sm_arn"])
            map_run = map_runs.state_machine_members(self.store, conn, row["arn"])
        out: dict[str, Any] = {
            "stateMachineArn": row["sm_arn"],
            "name": row["sm_name"],
            "definition": row["definition"],
            "roleArn": row["role_arn"],
            # Executions from before these were recorded fall back to the execution's start.
            "updateDate": row["sm_updated"] if row["sm_updated"] is not None else row["start"],
            "loggingConfiguration": _json_or(sm["logging"] if sm else None, _NO_LOGGING),
            "tracingConfiguration": _json_or(sm["tracing"] if sm else None, _NO_TRACING),
        }
        if row["sm_revision"] is not None:
            out["revisionId"] = row["sm_revision"]
        out.update(map_run)
        return out

    def list_executions(self, req: dict[str, Any]) -> dict[str, Any]:
        if req.get("mapRunArn") is not None:
            return map_runs.list_executions(self.store, req)
        sm_arn = _require(req, "stateMachineArn")
        status = req.get("statusFilter")
        if status is not None and status not in (
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "TIMED_OUT",
            "ABORTED",
            "PENDING_REDRIVE",
        ):
            raise ApiError("ValidationException", f"Invalid statusFilter: {status}")
        page = paging.requested(req)
        redriven = redrive.redrive_filter(req.get("redriveFilter"))
        sm_arn, _ = arns.split_test_case(sm_arn)
        sm_arn, qualifier = arns.split_qualifier(sm_arn)
        version_arn = alias_arn = None
        with self.store.read() as conn:
            if self._sm_row(conn, sm_arn)["type"] == EXPRESS:
                raise type_not_supported("ListExecutions", EXPRESS)
            if qualifier is not None and qualifier.isdigit():
                version_arn = versions.version_arn(sm_arn, int(qualifier))
                if self.store.version(conn, sm_arn, int(qualifier)) is None:
                    raise _not_found(version_arn)
            elif qualifier is not None:
                alias_arn = self._alias_row(conn, f"{sm_arn}:{qualifier}")["arn"]
            rows = self.store.list_executions(
                conn, sm_arn, status, page.fetch, page.offset, version_arn, alias_arn, redriven
            )

        def item(r: Any) -> dict[str, Any]:
            out = {
                "executionArn": r["arn"],
                "stateMachineArn": r["sm_arn"],
                "name": r["name"],
                "status": r["status"],
                "startDate": r["start"],
                **redrive.list_item_fields(r),
            }
            if r["stop"] is not None:
                out["stopDate"] = r["stop"]
            if r["version_arn"] is not None:
                out["stateMachineVersionArn"] = r["version_arn"]
            if r["alias_arn"] is not None:
                out["stateMachineAliasArn"] = r["alias_arn"]
            return out

        return page.answer("executions", rows, item)

    def get_execution_history(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _plain_execution_arn(_require(req, "executionArn"))
        page = paging.requested(req)
        include_data = req.get("includeExecutionData", True)
        with self.store.read() as conn:
            self._exec_row(conn, arn)
            reverse = bool(req.get("reverseOrder"))
            rows = self.store.events(conn, arn, reverse, page.fetch, page.offset)

        def item(r: Any) -> dict[str, Any]:
            event: dict[str, Any] = {
                "timestamp": r["ts"],
                "type": r["type"],
                "id": r["id"],
                "previousEventId": r["prev"] or 0,
            }
            if r["details"] is not None:
                details = json.loads(r["details"])
                if not include_data:
                    details = {k: v for k, v in details.items() if k not in ("input", "output")}
                event[_details_key(r["type"])] = details
            return event

        return page.answer("events", rows, item)

    def stop_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _plain_execution_arn(_require(req, "executionArn"))
        _limit(req, "error", MAX_ERROR)
        _limit(req, "cause", MAX_CAUSE)
        fx = Effects()
        with self.store.tx() as conn:
            row = self._exec_row(conn, arn)
            if row["status"] != "RUNNING":
                return {"stopDate": row["stop"] or self.clock.now()}
            self.engine.terminate(conn, arn, "ABORTED", req.get("error"), req.get("cause"), fx)
            stop = self.store.execution_stop(conn, arn)
        self.engine.apply(fx)
        return {"stopDate": stop}

    # ---------------------------------------------------------------- map runs

    def describe_map_run(self, req: dict[str, Any]) -> dict[str, Any]:
        return map_runs.describe_map_run(self.store, req)

    def list_map_runs(self, req: dict[str, Any]) -> dict[str, Any]:
        return map_runs.list_map_runs(self.store, req)

    def update_map_run(self, req: dict[str, Any]) -> dict[str, Any]:
        return map_runs.update_map_run(self.engine, req)

    def redrive_execution(self, req: dict[str, Any]) -> dict[str, Any]:
        arn = _plain_execution_arn(_require(req, "executionArn"))
        return redrive.redrive_execution(self.store, self.engine, arn, req.get("clientToken"))

    # ---------------------------------------------------------------- callbacks

    def send_task_success(self, req: dict[str, Any]) -> dict[str, Any]:
        token = _require(req, "taskToken")
        _limit(req, "taskToken", MAX_TASK_TOKEN)
        raw = _require(req, "output")
        _limit(req, "output", MAX_TASK_OUTPUT)
        try:
            output = json.loads(raw)
        except (TypeError, ValueError) as e:
            raise ApiError("InvalidOutput", f"Invalid Output: '{e}'") from e
        self.engine.task_response(token, output=output)
        return {}

    def send_task_failure(self, req: dict[str, Any]) -> dict[str, Any]:
        token = _require(req, "taskToken")
        for key, maximum in (("taskToken", MAX_TASK_TOKEN), ("error", MAX_ERROR)):
            _limit(req, key, maximum)
        _limit(req, "cause", MAX_CAUSE)
        self.engine.task_response(token, error=StatesError(req.get("error"), req.get("cause")))
        return {}

    def send_task_heartbeat(self, req: dict[str, Any]) -> dict[str, Any]:
        _limit(req, "taskToken", MAX_TASK_TOKEN)
        self.engine.heartbeat(_require(req, "taskToken"))
        return {}

    # ---------------------------------------------------------------- activities

    def create_activity(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.activities.create(req)

    def describe_activity(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.activities.describe(req)

    def delete_activity(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.activities.delete(req)

    def list_activities(self, req: dict[str, Any]) -> dict[str, Any]:
        page = paging.requested(req)
        items, more = self.activities.list(page.limit, page.offset)
        return {"activities": items, **({"nextToken": page.next_token()} if more else {})}

    def get_activity_task(self, req: dict[str, Any]) -> dict[str, Any]:
        return self.activities.get_task(req)

    # ---------------------------------------------------------------- helpers for tests

    def wait_for(self, execution_arn: str, timeout: float = 10.0) -> dict[str, Any]:
        """DescribeExecution once it is no longer RUNNING (or after timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            desc = self.describe_execution({"executionArn": execution_arn})
            if desc["status"] != "RUNNING" or time.monotonic() > deadline:
                return desc
            time.sleep(0.01)


def _test_case(name: str | None, mocked: dict[str, Any] | None) -> tuple[str, Any] | None:
    """What the store keeps of a mocked test case: (its name, its states' responses)."""
    return None if mocked is None else (name or "", mocked)


def _checked_input(req: dict[str, Any]) -> str:
    """An execution's input: a JSON text of at most 256 KB ("{}" when absent)."""
    raw_input = req.get("input")
    if raw_input is None:
        raw_input = "{}"
    if not isinstance(raw_input, str):
        raise ApiError("InvalidExecutionInput", "Invalid State Machine Execution Input")
    try:
        json.loads(raw_input)
    except ValueError as e:
        raise ApiError(
            "InvalidExecutionInput", f"Invalid State Machine Execution Input: '{e}'"
        ) from e
    if len(raw_input.encode()) > MAX_INPUT_BYTES:
        raise ApiError(
            "InvalidExecutionInput",
            "Invalid State Machine Execution Input: 'The input exceeds 262144 bytes'",
        )
    return raw_input


def _publish_requested(req: dict[str, Any]) -> bool:
    """Create/UpdateStateMachine's `publish`; a versionDescription needs it."""
    versions.check_description(req, "versionDescription")
    publish = bool(req.get("publish"))
    if req.get("versionDescription") is not None and not publish:
        raise ApiError(
            "ValidationException",
            "Version description can only be set when publishing a new version",
        )
    return publish


def _not_found(arn: str) -> ApiError:
    return ApiError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)


_NO_LOGGING = {"level": "OFF", "includeExecutionData": False}
_NO_TRACING = {"enabled": False}


def _json_or(text: str | None, default: dict[str, Any]) -> Any:
    """A stored configuration, or AWS's default when none was given ("null" included)."""
    return (json.loads(text) if text else None) or default


def _plain_execution_arn(arn: Any) -> Any:
    """`execution:Machine#Case:name` -> `execution:Machine:name`: execution ARNs never carry the
    test case, but one built by string replacement from a `#Case` state machine ARN would."""
    if isinstance(arn, str) and "#" in arn:
        parts = arn.split(":")
        if len(parts) == 8 and parts[5] == "execution" and "#" in parts[6]:
            parts[6] = parts[6].split("#", 1)[0]
            return ":".join(parts)
    return arn


_DETAIL_KEYS = {
    "ExecutionStarted": "executionStartedEventDetails",
    "ExecutionSucceeded": "executionSucceededEventDetails",
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
    "TaskScheduled": "taskScheduledEventDetails",
    "TaskStarted": "taskStartedEventDetails",
    "TaskSubmitted": "taskSubmittedEventDetails",
    "TaskSucceeded": "taskSucceededEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "LambdaFunctionScheduled": "lambdaFunctionScheduledEventDetails",
    "LambdaFunctionSucceeded": "lambdaFunctionSucceededEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "MapStateStarted": "mapStateStartedEventDetails",
    "MapIterationStarted": "mapIterationStartedEventDetails",
    "MapIterationSucceeded": "mapIterationSucceededEventDetails",
    "MapIterationFailed": "mapIterationFailedEventDetails",
    "MapIterationAborted": "mapIterationAbortedEventDetails",
    "MapRunStarted": "mapRunStartedEventDetails",
    "MapRunFailed": "mapRunFailedEventDetails",
}


def _details_key(event_type: str) -> str:
    if event_type in _DETAIL_KEYS:
        return _DETAIL_KEYS[event_type]
    if event_type.endswith("StateEntered"):
        return "stateEnteredEventDetails"
    if event_type.endswith("StateExited"):
        return "stateExitedEventDetails"
    return event_type[0].lower() + event_type[1:] + "EventDetails"
