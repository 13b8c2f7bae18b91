"""Parsed JSON values as bronze text: numbers exactly as written, nested values as
compact JSON, values found by dotted paths, records found by a record path.

Pure functions over what :func:`loads` returns (no files); utils/ingest/readers.py
uses them for JSON Lines and JSON documents.
"""

from __future__ import annotations

import json
from typing import Any

#: What :func:`dig` returns for a path that leads nowhere.
MISSING = object()


class RecordPathError(LookupError):
    """A document has no value at the record path; the message names the missing key."""


class Number(str):
    """A JSON number kept exactly as written."""


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Number, parse_int=Number, parse_constant=Number)


def compact_json(value: Any) -> str:
    """A parsed JSON value as compact JSON text (numbers as written, non-ASCII kept)."""
    if isinstance(value, Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{compact_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(compact_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def json_text(value: Any) -> str | None:
    """A JSON value as a bronze field: strings and numbers as written, null as null."""
    if value is None or value is MISSING:
        return None
    if isinstance(value, str):
        return str.__str__(value)
    return compact_json(value)


def dig(value: Any, path: str) -> Any:
    """The value at a dotted path (a numeric part indexes a list); MISSING when absent."""
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return value
    return value


def kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Number):
        return "a number"
    return {str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), type(value).__name__)


def records_at(document: Any, record_path: str) -> list[Any]:
    """The records of a parsed JSON document: the value at the dotted `record_path`
    (a list met on the way is walked element by element), an array flattened."""
    nodes = [document]
    for part in [p for p in record_path.split(".") if p]:
        found = []
        for node in nodes:
            for item in node if isinstance(node, list) else [node]:
                if not isinstance(item, dict) or part not in item:
                    raise RecordPathError(f"json_record_path {record_path!r}: no key {part!r} in {kind(item)}")
                found.append(item[part])
        nodes = found
    return [record for node in nodes for record in (node if isinstance(node, list) else [node])]
