"""Every operation of botocore's `stepfunctions` model is served by the engine and called
through boto3 by an integration test (the issue's "done when": all 37, each driven)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import botocore

from local.stepfunctions.api import OPERATIONS

ROOT = Path(__file__).resolve().parents[3]


def _model_operations() -> set[str]:
    data = Path(botocore.__file__).parent / "data" / "stepfunctions"
    (model,) = data.glob("*/service-2.json.gz")
    return set(json.loads(gzip.decompress(model.read_bytes()))["operations"])


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_engine_serves_every_operation_of_the_model() -> None:
    model = _model_operations()
    assert len(model) >= 37
    assert model == set(OPERATIONS), model ^ set(OPERATIONS)


def test_every_operation_is_called_through_boto3_by_an_integration_test() -> None:
    source = "\n".join(
        p.read_text() for p in (ROOT / "tests" / "integration").glob("test_*stepfunctions*.py")
    )
    uncalled = {op for op in _model_operations() if f".{_snake(op)}(" not in source}
    assert not uncalled, f"no integration test calls {sorted(uncalled)} through boto3"
