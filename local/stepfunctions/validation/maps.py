"""A Map state's configuration objects: ProcessorConfig (its Mode and ExecutionType, the latter
required in DISTRIBUTED mode), the fields ItemReader, ItemBatcher and ResultWriter take, one of
each ItemBatcher value/path pair, and the Map Run Label (AWS's INVALID_LABEL_NAME,
DUPLICATE_LABEL_NAME).

What the objects' inner settings hold (ReaderConfig, WriterConfig, BatchInput) is AWS's to
extend and is not judged here."""

from __future__ import annotations

import re
from typing import Any

from .diagnostics import DUPLICATE_LABEL_NAME, INVALID_LABEL_NAME, Findings
from .languages import reference_path_problem
from .machines import JSONATA, JSONPATH, Machine, processor_field
from .paths import check_template

MODES = ("INLINE", "DISTRIBUTED")
EXECUTION_TYPES = ("STANDARD", "EXPRESS")
PROCESSOR_CONFIG_FIELDS = frozenset({"Mode", "ExecutionType"})
OBJECT_FIELDS: dict[str, frozenset[str]] = {
    "ItemReader": frozenset({"Resource", "ReaderConfig", "Parameters", "Arguments"}),
    "ItemBatcher": frozenset(
        {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch"}
        | {"MaxInputBytesPerBatchPath", "BatchInput"}
    ),
    "ResultWriter": frozenset({"Resource", "Parameters", "Arguments", "WriterConfig"}),
}
REQUIRED_FIELDS = {"ItemReader": ("Resource",)}
# Inside the objects, the fields one query language has and the other does not, as on a state
JSONPATH_ONLY = frozenset({"Parameters", "MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath"})
JSONATA_ONLY = frozenset({"Arguments"})
# JSONPath payload templates (`.$` keys) and reference paths inside the objects
TEMPLATES = {"ItemReader": "Parameters", "ResultWriter": "Parameters", "ItemBatcher": "BatchInput"}
REFERENCE_PATHS = {"ItemBatcher": ("MaxItemsPerBatchPath", "MaxInputBytesPerBatchPath")}
BATCHER_PAIRS = (
    ("MaxItemsPerBatch", "MaxItemsPerBatchPath"),
    ("MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"),
)
MAX_LABEL = 40
# The characters AWS refuses in a Label (each refused on AWS in localstack's recorded tests):
# space, brackets, wildcards, reserved punctuation, C0 and C1 control characters
LABEL_FORBIDDEN = re.compile(r"[ ?*<>{}\[\]:;,\\|^~$#%&`\"\x00-\x1f\x7f-\x9f]")


def check_machine(machine: Machine, findings: Findings) -> None:
    for name, state in machine.states.items():
        if not isinstance(state, dict):
            continue
        at = machine.state_at(name)
        if state.get("Type") == "Map":
            _check_processor_config(state, at, findings)
            language = machine.language_of(state)
            for field in OBJECT_FIELDS:
                if field in state:
                    _check_object(field, state[field], f"{at}/{field}", language, findings)
            if "Label" in state:
                _check_label(state["Label"], f"{at}/Label", findings)
        elif state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
            for i, branch in enumerate(state["Branches"]):
                if isinstance(branch, dict) and "ProcessorConfig" in branch:
                    # a branch runs inline, always; only a Map's processor is configured
                    findings.schema(
                        "Field 'ProcessorConfig' is not supported", f"{at}/Branches[{i}]"
                    )


def _check_processor_config(state: dict[str, Any], at: str, findings: Findings) -> None:
    field = processor_field(state)
    processor = state.get(field)
    if not isinstance(processor, dict) or "ProcessorConfig" not in processor:
        return
    where = f"{at}/{field}/ProcessorConfig"
    config = processor["ProcessorConfig"]
    if not isinstance(config, dict):
        findings.schema("The field 'ProcessorConfig' must be a JSON object", where)
        return
    for key in config:
        if key not in PROCESSOR_CONFIG_FIELDS:
            findings.schema(f"Field '{key}' is not supported", where)
    mode = config.get("Mode", "INLINE")
    if mode not in MODES:
        findings.schema(
            f"The field 'Mode' should have one of these values: [{', '.join(MODES)}]",
            f"{where}/Mode",
        )
    execution_type = config.get("ExecutionType")
    if "ExecutionType" in config and execution_type not in EXECUTION_TYPES:
        findings.schema(
            "The field 'ExecutionType' should have one of these values: "
            f"[{', '.join(EXECUTION_TYPES)}]",
            f"{where}/ExecutionType",
        )
    if mode == "DISTRIBUTED" and "ExecutionType" not in config:
        findings.schema("These fields are required: [ExecutionType]", where)


def _check_object(field: str, value: Any, where: str, language: str, findings: Findings) -> None:
    if not isinstance(value, dict):
        findings.schema(f"The field '{field}' must be a JSON object", where)
        return
    foreign = JSONPATH_ONLY if language == JSONATA else JSONATA_ONLY
    for key in value:
        if key not in OBJECT_FIELDS[field]:
            findings.schema(f"Field '{key}' is not supported", where)
        elif key in foreign:
            # the sentence AWS gives for the same mix on a state
            other = JSONATA if language == JSONPATH else JSONPATH
            findings.schema(
                f"The QueryLanguage is set to '{language}', but field '{key}' is only "
                f"supported for the '{other}' QueryLanguage",
                where,
            )
    if language == JSONPATH:
        template = TEMPLATES.get(field)
        if template in value:
            check_template(value[template], f"{where}/{template}", findings)
        for key in REFERENCE_PATHS.get(field, ()):
            path = value.get(key)
            if isinstance(path, str) and reference_path_problem(path):
                findings.schema(
                    f"The value for the field '{key}' must be a valid ReferencePath", where
                )
    missing = [f for f in REQUIRED_FIELDS.get(field, ()) if f not in value]
    if missing:
        findings.schema(f"These fields are required: [{', '.join(missing)}]", where)
    if field == "ItemBatcher":
        for pair in BATCHER_PAIRS:
            if all(f in value for f in pair):
                findings.schema(
                    f"There should only be one of the following fields: [{', '.join(pair)}]",
                    where,
                )


def _check_label(label: Any, where: str, findings: Findings) -> None:
    if not isinstance(label, str):
        findings.schema("The field 'Label' must be a string", where)
    elif not label or len(label) > MAX_LABEL:
        findings.error(INVALID_LABEL_NAME, f"Label must be 1 to {MAX_LABEL} characters", where)
    elif LABEL_FORBIDDEN.search(label):
        findings.error(
            INVALID_LABEL_NAME,
            "Label must not contain whitespace, brackets, wildcards, special characters "
            "or control characters",
            where,
        )


def check_unique_labels(all_machines: list[Machine], findings: Findings) -> None:
    """A Label names the Map Runs of one Map state, so no two Map states share one."""
    seen: set[str] = set()
    for machine in all_machines:
        for name, state in machine.states.items():
            if not isinstance(state, dict) or state.get("Type") != "Map":
                continue
            label = state.get("Label")
            if not isinstance(label, str):
                continue
            if label in seen:
                findings.error(
                    DUPLICATE_LABEL_NAME,
                    f"Duplicate Label name: '{label}'",
                    f"{machine.state_at(name)}/Label",
                )
            seen.add(label)
