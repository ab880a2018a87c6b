"""Map in DISTRIBUTED mode (ItemProcessor.ProcessorConfig.Mode; the legacy Iterator too):
the items, ItemSelector per item, ItemBatcher's batches, and the child inputs handed to a map
run (map_runs.py), which runs each as a child execution of the item processor.

ItemReader and ResultWriter read and write Amazon S3, which this engine does not have: the
map run fails at once with the error AWS gives for a source or a destination it cannot use
(States.ItemReaderFailed, States.ResultWriterFailed)."""

from __future__ import annotations

import json
from typing import Any

from .. import errors, map_runs
from ..context import Step
from ..errors import StatesError
from ..languages import JSONATA, Scope
from ..languages.jsonpath_lang import parse_int
from ..languages.payload import evaluate_expression, input_path, render

# The largest input of a child execution, as Step Functions limits any execution input.
MAX_BATCH_BYTES = 256 * 1024
ITEM_READER_FAILED = "States.ItemReaderFailed"
RESULT_WRITER_FAILED = "States.ResultWriterFailed"


def is_distributed(state: dict[str, Any]) -> bool:
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    return (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED"


def attempt(step: Step) -> None:
    run, state = step.run, step.state
    processor = state.get("ItemProcessor") or state.get("Iterator") or {}
    child_definition = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
    # Nested states take the top level's query language: so does the child execution.
    top_language = step.engine.definition(step.ex).get("QueryLanguage")
    if top_language:
        child_definition["QueryLanguage"] = top_language
    label = state.get("Label")
    if "ItemReader" in state:
        step.event("MapStateStarted", {"length": 0})
        step.wait()
        unreadable = StatesError(
            ITEM_READER_FAILED,
            "The local engine has no Amazon S3 to read items from (ItemReader "
            f"{state['ItemReader'].get('Resource')}); give the items in the state input",
        )
        map_runs.start(step, [], 0, 0, 0.0, label, child_definition, unreadable)
        return
    scope = step.scope(run.input)
    plan = step.lang.map_plan(state, scope)
    inputs = [_item_input(step, scope, i, item) for i, item in enumerate(plan.items)]
    children = _batches(step, scope, inputs) if "ItemBatcher" in state else [(v, 1) for v in inputs]
    step.event("MapStateStarted", {"length": len(plan.items)})
    step.wait()
    failure: StatesError | None = None
    if "ResultWriter" in state:
        failure = StatesError(
            RESULT_WRITER_FAILED,
            "The local engine has no Amazon S3 to write results to (ResultWriter "
            f"{state['ResultWriter'].get('Resource')}); leave ResultWriter out to get the "
            "results as the state's output",
        )
    map_runs.start(
        step,
        children,
        plan.max_concurrency,
        _whole(plan.tolerated_count, "ToleratedFailureCount"),
        _number(plan.tolerated_percentage, "ToleratedFailurePercentage"),
        label,
        child_definition,
        failure,
    )


def _item_input(step: Step, scope: Scope, index: int, item: Any) -> Any:
    """ItemSelector (or Parameters) applied to one item, which sees $$.Map.Item."""
    map_ctx = {"Item": {"Index": index, "Value": item}}
    item_scope = Scope(scope.data, {**scope.context, "Map": map_ctx}, step.run.variables)
    return step.lang.map_item_input(step.state, item_scope, item)


def _batches(step: Step, scope: Scope, inputs: list[Any]) -> list[tuple[Any, int]]:
    """ItemBatcher: {"Items": [...]} per child (and "BatchInput"), at most MaxItemsPerBatch
    items and MaxInputBytesPerBatch bytes each (256 KB at most either way)."""
    batcher = step.state["ItemBatcher"]
    max_items = _batcher_number(step, scope, batcher, "MaxItemsPerBatch")
    max_bytes = _batcher_number(step, scope, batcher, "MaxInputBytesPerBatch")
    max_bytes = min(max_bytes or MAX_BATCH_BYTES, MAX_BATCH_BYTES)
    base: dict[str, Any] = {}
    if "BatchInput" in batcher:
        base["BatchInput"] = _evaluate(step, scope, batcher["BatchInput"], "BatchInput")
    overhead = _size({**base, "Items": []})
    batches: list[tuple[Any, int]] = []
    current: list[Any] = []
    size = overhead
    for value in inputs:
        item_size = _size(value) + (1 if current else 0)  # the comma between items
        full = bool(max_items) and len(current) >= max_items
        if current and (full or size + item_size > max_bytes):
            batches.append(({**base, "Items": current}, len(current)))
            current, size = [], overhead
            item_size = _size(value)
        current.append(value)
        size += item_size
    if current:
        batches.append(({**base, "Items": current}, len(current)))
    return batches


def _batcher_number(step: Step, scope: Scope, batcher: dict[str, Any], key: str) -> int:
    if key in batcher:
        raw = _evaluate(step, scope, batcher[key], key)
    elif f"{key}Path" in batcher:
        data = input_path(step.state, scope)
        raw = evaluate_expression(batcher[f"{key}Path"], scope.with_data(data), f"{key}Path")
    else:
        return 0
    value = parse_int(raw)
    if value is None or value < 0:
        raise StatesError(
            errors.RUNTIME,
            f"The {key} field of ItemBatcher must be a non-negative integer, but was: "
            f"{json.dumps(raw)}",
        )
    return value


def _evaluate(step: Step, scope: Scope, template: Any, field: str) -> Any:
    if step.lang is JSONATA:
        return JSONATA.render(template, scope, field, {})
    return render(template, scope.with_data(input_path(step.state, scope)))


def _whole(raw: Any, field: str) -> int:
    value = parse_int(raw) if raw is not None else 0
    if value is None or value < 0:
        raise StatesError(errors.RUNTIME, f"{field} must be a non-negative integer: {raw!r}")
    return value


def _number(raw: Any, field: str) -> float:
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if isinstance(raw, bool) or not 0 <= value <= 100:
        raise StatesError(errors.RUNTIME, f"{field} must be a number from 0 to 100: {raw!r}")
    return value


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
