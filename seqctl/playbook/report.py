"""Reporters for lint findings, chosen by name: text, json, github."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from enum import StrEnum

from seqctl.playbook.lint import LintResult


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"


def default_format() -> Format:
    """GitHub annotations inside GitHub Actions, text elsewhere."""
    return Format.GITHUB if os.environ.get("GITHUB_ACTIONS") == "true" else Format.TEXT


def text(result: LintResult) -> str:
    lines = [str(f) for f in result.findings]
    errors, warnings = len(result.errors), len(result.warnings)
    files = len(result.files)
    summary = f"{files} file{'s' if files != 1 else ''} checked"
    if errors or warnings:
        summary += f": {errors} error{'s' if errors != 1 else ''}, "
        summary += f"{warnings} warning{'s' if warnings != 1 else ''}"
    else:
        summary += ", no problems"
    return "\n".join([*lines, summary])


def as_json(result: LintResult) -> str:
    return json.dumps([f.as_json() for f in result.findings], indent=2)


def github(result: LintResult) -> str:
    def escape(value: str) -> str:
        return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    return "\n".join(
        f"::{f.severity} file={f.path},line={f.line},col={f.column},title={f.rule}::"
        f"{escape(f.message)}"
        for f in result.findings
    )


REPORTERS: dict[Format, Callable[[LintResult], str]] = {
    Format.TEXT: text,
    Format.JSON: as_json,
    Format.GITHUB: github,
}
