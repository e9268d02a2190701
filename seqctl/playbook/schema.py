"""The JSON Schemas shipped in the package, and schema errors located at their YAML nodes."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from seqctl.credentials import is_secret_path
from seqctl.durations import DurationError, parse_wait
from seqctl.playbook.findings import Finding
from seqctl.playbook.source import Document

if TYPE_CHECKING:  # jsonschema is imported when a file is validated, not at start-up
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

SEQUENCE_SCHEMA = "sequence.schema.json"
CONFIG_SCHEMA = "config.schema.json"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema from the installed package (never from the source tree)."""
    text = resources.files("seqctl").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def validator(name: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def schema_findings(document: Document, name: str = SEQUENCE_SCHEMA) -> list[Finding]:
    """Every schema error in a document, each at the node it is about."""
    findings = [_finding(document, error) for error in _leaf_errors(document.data, name)]
    return sorted(set(findings))


def _leaf_errors(data: Any, name: str) -> Iterator[ValidationError]:
    from jsonschema.exceptions import best_match

    for error in validator(name).iter_errors(data):
        # oneOf/anyOf: report the branch that came closest, as check-jsonschema does.
        yield best_match(error.context) if error.context else error


_UNEXPECTED = re.compile(r"'([^']+)' (?:was|were) unexpected")


def _finding(document: Document, error: ValidationError) -> Finding:
    path = tuple(error.absolute_path)
    kind = error.validator
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance
    if kind != "additionalProperties" and _about_a_secret(error, path):
        return _secret_finding(document, error, path)
    if kind == "additionalProperties":
        extras = sorted(set(instance) - set(schema.get("properties", {})))
        known = list(schema.get("properties", {}))
        key = extras[0] if extras else "?"
        close = difflib.get_close_matches(key, known, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return document.finding((*path, key), "unknown-key", f"unknown key '{key}'{hint}", key=True)
    if kind in ("pattern", "type") and path and path[-1] == "wait":
        try:
            parse_wait(instance)
        except DurationError as exc:
            return document.finding(path, exc.rule, exc.message)
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        what = missing[0] if missing else error.message
        return document.finding(path, "schema", f"missing required key '{what}'{_where(path)}")
    if kind == "enum":
        allowed = [str(v) for v in schema.get("enum", [])]
        close = difflib.get_close_matches(str(error.instance), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return document.finding(
            path, "schema", f"{error.instance!r} is not one of: {', '.join(allowed)}{hint}"
        )
    if kind == "not" and isinstance(error.validator_value, dict):
        both = error.validator_value.get("required", [])
        if both:
            return document.finding(path, "schema", f"use only one of: {', '.join(both)}")
    if kind in ("minItems", "maxItems") and path and path[-1] == "variants":
        return document.finding(path, "schema", f"a step has 2 to 5 variants, not {len(instance)}")
    if kind == "not" and path and path[-1] == "variants":
        return document.finding(path, "schema", str(schema.get("description")))
    if kind == "dependentRequired" and "winner" in instance and "variants" not in instance:
        return document.finding(
            (*path, "winner"), "schema", "winner names one of the step's variants: it has none"
        )
    if kind in ("exclusiveMinimum", "type") and path and path[-1] == "weight":
        return document.finding(
            path, "schema", f"a variant's weight is a positive number, not {instance!r}"
        )
    description = schema.get("description")
    message = error.message
    if kind == "pattern" and description:
        message = f"{error.instance!r} does not match the expected format: {description}"
    return document.finding(path, "schema", message)


def _where(path: tuple[Any, ...]) -> str:
    if not path:
        return ""
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return f" in {shown}"


_ENV_NAME = (
    "the name of an environment variable (such as SMTP_PASSWORD: letters, digits and _), "
    "not the secret itself"
)
_NOT_SHOWN = "the value is not shown"


def _about_a_secret(error: ValidationError, path: tuple[Any, ...]) -> bool:
    """The error is about a value that is, or may be, a secret: under password_env, secret,
    token..., the value of a credential header, or the name of a header (`Authorization:
    Bearer ...` typed as one)."""
    if "propertyNames" in error.schema_path:
        return bool(path) and path[-1] in ("headers", "headers_env") or is_secret_path(path)
    return is_secret_path(path)


def _secret_finding(document: Document, error: ValidationError, path: tuple[Any, ...]) -> Finding:
    """Say what is wrong and where, never the value: it may be a password typed by mistake."""
    if "propertyNames" in error.schema_path:
        message = (
            "a header name has only letters, digits and !#$%&'*+.^_`|~- "
            "(the name is not shown, in case it holds a credential)"
        )
        return document.finding((*path, str(error.instance)), "schema", message, key=True)
    key = str(path[-1]) if path else "this key"
    if key.endswith("_env") or "headers_env" in path:
        expected = _ENV_NAME
    else:
        kind = error.validator
        expected = f"a {error.validator_value}" if kind == "type" else f"a valid value ({kind})"
    return document.finding(path, "schema", f"{key} takes {expected}; {_NOT_SHOWN}")
