"""The two query languages of ASL behind one interface (`base.QueryLanguage`).

`jsonpath` (paths), `payload` (templates), `intrinsics` (`States.*`) and `choice` (Choice rules)
make up JSONPath (`jsonpath_lang`); `jsonata_lang` is JSONata. Neither imports the other; only
`language_of` here knows both.
"""

from __future__ import annotations

from typing import Any

from .base import MapPlan, QueryLanguage
from .jsonata_lang import JSONATA
from .jsonpath_lang import JSONPATH
from .scope import Scope

__all__ = ["JSONATA", "JSONPATH", "MapPlan", "QueryLanguage", "Scope", "language_of"]


def language_of(
    doc: dict[str, Any], machine: dict[str, Any], state: dict[str, Any]
) -> QueryLanguage:
    name = state.get("QueryLanguage") or doc.get("QueryLanguage") or "JSONPath"
    return JSONATA if name == "JSONata" else JSONPATH
