"""JSONata query language (QueryLanguage: "JSONata")."""

from __future__ import annotations

from .query import JsonPathLanguage


class JsonataLanguage(JsonPathLanguage):
    pass


JSONATA = JsonataLanguage()
