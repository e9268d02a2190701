"""The rule codes lint can report, read from seqctl's source.

The codes are string literals given to the functions that make findings (`Finding(...)`,
`document.finding(...)`, `self.problem(...)`, `report(...)`, `TemplateProblem(...)`,
`Excess(...)`, `rule=...`, a `rule` argument's default); a code is lowercase words joined by
dashes. The lint rules page must list exactly these.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.docs.runner import ROOT

SOURCES = (
    "seqctl/playbook",
    "seqctl/template_checks.py",
    "seqctl/durations.py",
    "seqctl/config.py",
)
MAKERS = {"Finding", "finding", "problem", "report", "TemplateProblem", "Excess", "DurationError"}
_CODE = re.compile(r"^[a-z]+(-[a-z]+)*$")


def codes() -> set[str]:
    found: set[str] = set()
    for source in SOURCES:
        path = ROOT / source
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            found |= _codes_in(file)
    return found


def _codes_in(file: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef):  # def __init__(self, *, rule: str = "wait-format")
            arguments = node.args
            named = list(zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
            positional = arguments.posonlyargs + arguments.args
            named += list(
                zip(
                    positional[len(positional) - len(arguments.defaults) :],
                    arguments.defaults,
                    strict=True,
                )
            )
            found |= {
                value
                for argument, default in named
                if argument.arg == "rule" and default is not None
                for value in _constants(default)
            }
            continue
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        values = [kw.value for kw in node.keywords if kw.arg == "rule"]
        if name in MAKERS:
            values += node.args
        for value in values:
            for constant in _constants(value):
                if _CODE.match(constant):
                    found.add(constant)
    return found


def _constants(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    return []
