"""`compose:` on a message step: an external program writes the text (a language model, say).

The program gets the step's context as JSON on standard input and prints the text. With
`mode: assisted` the result always waits for a person's OK; `mode: full` needs the playbook's
consent block (lint checks it). A program that fails or runs past its timeout fails the step
with what it printed on standard error, and nothing is sent.

A playbook never names a command itself: anyone who can open a pull request writes playbooks,
and the tick would run what they wrote on its host. It names a composer of seqctl.yaml's
`composers:` (the configuration the people who run seqctl own), and only those run. A version
published before this rule, whose `command` is a command line, fails its step with the reason.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from typing import Any

from seqctl.engine.messages import composers
from seqctl.playbook.model import COMPOSER_NAME, Step
from seqctl.render import RenderError


def composer_for(spec: Mapping[str, Any]) -> composers.Composer:
    """The configured composer a step's `compose:` names; RenderError for anything else."""
    named = spec.get("command")
    if not isinstance(named, str) or not COMPOSER_NAME.fullmatch(named):
        raise RenderError(
            "compose names a command line, not a composer: a playbook may only name a "
            "composer of seqctl.yaml's `composers:` (publish it again with one)"
        )
    found = composers.configured.get(named)
    if found is None:
        known = ", ".join(sorted(composers.configured)) or "none"
        raise RenderError(f"no composer '{named}' in seqctl.yaml's composers (known: {known})")
    return found


def compose(
    spec: Mapping[str, Any],
    step: Step,
    variables: Mapping[str, Any],
    *,
    subject: str | None,
    draft: str | None = None,
) -> tuple[str | None, str]:
    """Run the program; its output is the body. A first line `Subject: ...` sets the subject.

    The program reads the draft as rendered for this contact (`draft`, `subject`), never the
    template's source: what a person would have sent is what it improves on.
    """
    chosen = composer_for(spec)
    argv = list(chosen.argv)
    if not argv:
        raise RenderError(f"composer '{chosen.name}' has an empty command")
    context = {
        "step": {"id": step.id, "type": str(step.type)},
        "subject": subject,
        "instructions": step.spec.get("instructions"),
        "draft": draft,
        "variables": _plain(variables),
    }
    timeout = min(float(spec.get("timeout", chosen.timeout)), chosen.timeout)
    try:
        done = subprocess.run(
            argv,
            input=json.dumps(context, default=str).encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise RenderError(f"compose command not found: {argv[0]}") from None
    except subprocess.TimeoutExpired:
        raise RenderError(f"compose command timed out after {timeout:g} s: {argv[0]}") from None
    except OSError as exc:  # not executable, a folder, a bad interpreter line, ...
        reason = (exc.strerror or str(exc)).lower()
        raise RenderError(f"compose command cannot be run: {argv[0]}: {reason}") from None
    if done.returncode != 0:
        errors = done.stderr.decode("utf-8", "replace").strip()
        reason = errors.splitlines()[-1] if errors else "no error output"
        raise RenderError(f"compose command failed (exit {done.returncode}): {reason}")
    try:
        text = done.stdout.decode("utf-8").strip("\n")
    except UnicodeDecodeError:
        raise RenderError("compose command printed text that is not UTF-8") from None
    if not text.strip():
        raise RenderError("compose command printed nothing: a blank message is never sent")
    first, _, rest = text.partition("\n")
    if first.lower().startswith("subject:"):
        return first.split(":", 1)[1].strip(), rest.lstrip("\n")
    return subject, text


def _plain(value: Any) -> Any:
    """Template variables as plain JSON data (the render layer wraps them in mappings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return str(value)
    except Exception:  # a missing value (None, "") is an undefined that refuses to print
        return None
