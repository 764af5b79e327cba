"""JSON out of a model's reply: find the object in free text, check it against a JSON-schema subset.

Small models wrap JSON in code fences or prose, and servers differ in how far they enforce a schema, so every
structured reply is parsed with :func:`extract_json` and checked with :func:`check_schema` whatever the server
promised.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["check_schema", "extract_json"]


def extract_json(text: str) -> dict[str, Any]:
    """Return the first JSON object in a model reply, tolerating code fences and text around it.

    Raises:
        ValueError: when the reply holds no JSON object.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("the reply is empty")
    try:
        value = json.loads(stripped)
    except ValueError:
        pass
    else:
        if isinstance(value, dict):
            return value
        raise ValueError(f"expected a JSON object, got a JSON {type(value).__name__}")
    decoder = json.JSONDecoder()
    start = stripped.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(stripped, start)
        except ValueError:
            start = stripped.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = stripped.find("{", start + 1)
    raise ValueError("the reply holds no JSON object")


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def check_schema(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Check ``value`` against a JSON-schema subset (type, properties, required, items, enum, lengths, sizes).

    Raises:
        ValueError: naming the first place (``$.field[2]``) that does not fit.
    """
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        ok = False
        for name in names:
            expected = _TYPES.get(name)
            if expected is None:
                ok = True  # an unknown type name is not ours to judge
            elif isinstance(value, bool) and name in ("integer", "number"):
                continue
            elif isinstance(value, expected):
                ok = True
            if ok:
                break
        if not ok:
            raise ValueError(f"{path} should be {' or '.join(names)}, got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise ValueError(f"{path} should be one of {schema['enum']!r}, got {value!r}")
    if isinstance(value, str):
        if len(value) < int(schema.get("minLength", 0)):
            raise ValueError(f"{path} should have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > int(schema["maxLength"]):
            raise ValueError(f"{path} should have at most {schema['maxLength']} characters")
    if isinstance(value, list):
        if len(value) < int(schema.get("minItems", 0)):
            raise ValueError(f"{path} should have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > int(schema["maxItems"]):
            raise ValueError(f"{path} should have at most {schema['maxItems']} items")
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                check_schema(item, items, f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                raise ValueError(f"{path} lacks the required field '{name}'")
        for name, item in value.items():
            if name in properties:
                check_schema(item, properties[name], f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                raise ValueError(f"{path} has a field '{name}' the schema does not allow")
