"""JSON out of a model's reply: find the object in free text, validate it against its JSON schema.

Small models wrap JSON in code fences or prose, and servers differ in how far they enforce a schema, so every
structured reply is parsed with :func:`extract_json` and checked with :func:`check_schema` whatever the server
promised. Validation is done by the ``jsonschema`` package (the schema's own ``$schema`` dialect, else draft
2020-12), so every keyword a schema uses is enforced: ``type``, ``enum``, ``pattern``, lengths and sizes,
``required``, ``additionalProperties``, ``format`` and the rest. Each failure is reported as one sentence naming
the place in the reply (``$.distractor_ids[1] should be one of ['0', '2'], got '7'``), the text that is sent back
to the model when it is re-asked.
"""

from __future__ import annotations

import json
import re
from collections import deque
from functools import lru_cache
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


_PY_TYPES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


@lru_cache(maxsize=64)
def _validator(schema_json: str) -> Any:
    import jsonschema

    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema at {_where(exc.absolute_path, '#')}: {exc.message}") from None
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def _where(parts: deque[str | int] | list[str | int], root: str = "$") -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(error: Any) -> str:
    """One sentence for one ``jsonschema.ValidationError``, in the words the model is re-asked with."""
    path = _where(error.absolute_path)
    keyword = error.validator
    expected = error.validator_value
    value = error.instance
    if keyword == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        got = _PY_TYPES.get(type(value), type(value).__name__)
        return f"{path} should be {' or '.join(names)}, got {got}"
    if keyword == "enum":
        return f"{path} should be one of {expected!r}, got {_shown(value)}"
    if keyword == "const":
        return f"{path} should be {expected!r}, got {_shown(value)}"
    if keyword == "pattern":
        return f"{path} should match the pattern {expected!r}, got {_shown(value)}"
    if keyword in ("minLength", "maxLength"):
        word = "least" if keyword == "minLength" else "most"
        return f"{path} should have at {word} {expected} characters, got {len(value)}"
    if keyword in ("minItems", "maxItems"):
        word = "least" if keyword == "minItems" else "most"
        return f"{path} should have at {word} {expected} items, got {len(value)}"
    if keyword == "required" and isinstance(value, dict):
        missing = [name for name in expected if name not in value]
        return f"{path} lacks the required field '{missing[0] if missing else '?'}'"
    if keyword == "additionalProperties" and isinstance(value, dict):
        schema = error.schema
        known = set(schema.get("properties") or {})
        patterns = list(schema.get("patternProperties") or {})
        extra = [k for k in value if k not in known and not any(re.search(p, k) for p in patterns)]
        return f"{path} has a field '{extra[0] if extra else '?'}' the schema does not allow"
    return f"{path}: {error.message}"


def check_schema(value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Validate ``value`` against a JSON schema with ``jsonschema``; every keyword the schema uses is enforced.

    Args:
        value: The parsed reply.
        schema: The JSON schema (its ``$schema`` dialect, else draft 2020-12).
        path: Name of ``value`` in messages (``$`` for a whole reply).

    Raises:
        ValueError: naming the first place (``$.field[2]``) that does not fit and why; also for a schema that is
            not a valid JSON schema.
    """
    import jsonschema

    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the JSON schema is not JSON-serialisable: {exc}") from None
    validator = _validator(key)
    errors = list(validator.iter_errors(value))
    if not errors:
        return
    # the place nearest the top of the reply first; there, a wrong type before what follows from it
    nearest = min(len(e.absolute_path) for e in errors)
    at = [e for e in errors if len(e.absolute_path) == nearest]
    error = next((e for e in at if e.validator == "type"), None) or jsonschema.exceptions.best_match(at)
    sentence = _sentence(error)
    if path != "$" and sentence.startswith("$"):
        sentence = path + sentence[1:]
    raise ValueError(sentence)
