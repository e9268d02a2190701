"""Sandboxed Jinja for message subjects and bodies, rendered at send time.

A variable that is missing, None or "" never renders blank: it raises `MissingVariable` with its
dotted name, unless the template handles it (`| default(...)`, `{% if %}`, `is defined`).

`context.py` holds the variables a template sees (values that know their dotted path);
`sandbox.py` the environment that compiles, renders and evaluates with them; `limits.py`,
`guards.py`, `codegen.py` and `watchdog.py` bound each render (time, output, text built,
memory), so a runaway template fails its one message. Import from here.
"""

from __future__ import annotations

from seqctl.render.context import KNOWN_ROOTS, TARGETS, prepared, template_context
from seqctl.render.errors import MissingVariable, RenderError, RenderLimit, RenderTimeout
from seqctl.render.limits import Limits, configure
from seqctl.render.sandbox import (
    compile_template,
    environment,
    evaluate,
    render,
    within_limits,
)

__all__ = [
    "KNOWN_ROOTS",
    "TARGETS",
    "Limits",
    "MissingVariable",
    "RenderError",
    "RenderLimit",
    "RenderTimeout",
    "compile_template",
    "configure",
    "environment",
    "evaluate",
    "prepared",
    "render",
    "template_context",
    "within_limits",
]
