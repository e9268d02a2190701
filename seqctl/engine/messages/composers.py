"""The composers of seqctl.yaml: the only programs a playbook's `compose:` may run, by name.

Kept apart from compose.py (which renders and runs them) so reading the configuration loads
no Jinja: a tick with nothing due stays light.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 120.0  # a composer that hangs holds up the tick: never longer than this


@dataclass(frozen=True)
class Composer:
    """A program seqctl.yaml allows playbooks to compose with, by name."""

    name: str
    argv: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT


configured: dict[str, Composer] = {}


def configure(composers: Mapping[str, Any] | None) -> None:
    """The composers of seqctl.yaml (`composers: {NAME: {command, timeout?}}`), for this run."""
    configured.clear()
    for name, spec in (composers or {}).items():
        command = spec["command"]
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        timeout = min(float(spec.get("timeout", DEFAULT_TIMEOUT)), MAX_TIMEOUT)
        configured[str(name)] = Composer(str(name), tuple(argv), timeout)
