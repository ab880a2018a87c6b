"""template.yaml as data, for the build checks (CloudFormation's short tags kept as dicts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    # !Ref x -> {"Ref": x}; !GetAtt a.b -> {"Fn::GetAtt": "a.b"}; !Sub ... -> {"Fn::Sub": ...}
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_Loader)  # a SafeLoader subclass


def resources(template: dict[str, Any], *types: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") in types
    }


def function_property(template: dict[str, Any], function: dict[str, Any], key: str) -> Any:
    """A function's property, or the Globals value SAM would give it."""
    properties = function.get("Properties") or {}
    if key in properties:
        return properties[key]
    return ((template.get("Globals") or {}).get("Function") or {}).get(key)
