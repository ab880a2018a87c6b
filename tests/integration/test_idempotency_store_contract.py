"""One contract, every Powertools persistence layer the partner API uses (in-memory fake,
SQLite, Powertools' own DynamoDB layer on moto with the template's IdempotencyTable), through
Powertools' idempotent_function as the handler uses it: replay, payload conflict, a failed
call forgotten, a call in progress refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from local.runtime.dynamodb_tables import table_names
from optin.adapters.sqlite_idempotency import SqlitePersistenceLayer
from tests.fakes.idempotency import MemoryPersistenceLayer
from tests.support import dynamodb

IDEMPOTENCY_TABLE = table_names(dynamodb.TEMPLATE)["IdempotencyTable"]


@pytest.fixture(params=["memory", "sqlite", "dynamodb"])
def layer(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BasePersistenceLayer]:
    if request.param == "memory":
        yield MemoryPersistenceLayer()
    elif request.param == "sqlite":
        store = SqlitePersistenceLayer(tmp_path / "contacts.db")
        yield store
        store.close()
    else:
        with dynamodb.moto_dynamodb() as client:
            yield DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=client)


def runner(layer: BasePersistenceLayer, calls: list[dict[str, Any]], fail: bool = False) -> Any:
    config = IdempotencyConfig(
        event_key_jmespath="[client, key]", payload_validation_jmespath="body"
    )

    def work(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        if fail:
            raise RuntimeError("the work failed")
        return {"answer": len(calls), "body": request["body"]}

    return idempotent_function(
        work, data_keyword_argument="request", persistence_store=layer, config=config
    )


def req(key: str = "k-1", body: Any = None, client: str = "acme") -> dict[str, Any]:
    return {"client": client, "key": key, "body": body or {"n": 1}}


def test_the_same_key_and_body_replay_the_first_answer(layer: BasePersistenceLayer) -> None:
    calls: list[dict[str, Any]] = []
    run = runner(layer, calls)
    first = run(request=req())
    assert run(request=req()) == first == {"answer": 1, "body": {"n": 1}}
    assert len(calls) == 1


def test_the_same_key_with_another_body_is_refused(layer: BasePersistenceLayer) -> None:
    calls: list[dict[str, Any]] = []
    run = runner(layer, calls)
    run(request=req())
    with pytest.raises(IdempotencyValidationError):
        run(request=req(body={"n": 2}))
    assert len(calls) == 1


def test_keys_are_separate_per_key_and_per_client(layer: BasePersistenceLayer) -> None:
    calls: list[dict[str, Any]] = []
    run = runner(layer, calls)
    run(request=req("k-1"))
    run(request=req("k-2"))
    run(request=req("k-1", client="other", body={"n": 2}))
    assert len(calls) == 3


def test_a_failed_call_is_forgotten_and_runs_again(layer: BasePersistenceLayer) -> None:
    calls: list[dict[str, Any]] = []
    with pytest.raises(RuntimeError):
        runner(layer, calls, fail=True)(request=req())
    assert runner(layer, calls)(request=req())["answer"] == 2


def test_a_call_in_progress_is_refused(layer: BasePersistenceLayer) -> None:
    calls: list[dict[str, Any]] = []
    config = IdempotencyConfig(event_key_jmespath="[client, key]")
    inner: list[Any] = []

    def work(request: dict[str, Any]) -> dict[str, Any]:
        calls.append(request)
        with pytest.raises(IdempotencyAlreadyInProgressError):
            inner[0](request=request)
        return {"ok": True}

    run = idempotent_function(
        work, data_keyword_argument="request", persistence_store=layer, config=config
    )
    inner.append(run)
    assert run(request=req()) == {"ok": True}
    assert len(calls) == 1
