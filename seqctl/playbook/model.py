"""The one model every playbook normalises into, and its digest.

`type: wait` steps and `wait:` on a step become the same thing: the waits before a step are
folded into it. Default step ids are `step-1`, `step-2`, ... counted over the steps that remain.
Template files are read into the definition, so a published version holds everything it sends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from seqctl.durations import Wait, parse_wait
from seqctl.playbook.files import Sources, climbs, read_template


class StepType(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    TELEGRAM = "telegram"
    CALL = "call"
    TASK = "task"
    WAIT = "wait"
    BRANCH = "branch"
    WEBHOOK = "webhook"


MESSAGE_TYPES = frozenset({StepType.EMAIL, StepType.SMS, StepType.WHATSAPP, StepType.TELEGRAM})
ALWAYS_MANUAL = frozenset({StepType.CALL, StepType.TASK})


# What a branch `if:` may call about the enrollment: opened('hello'), clicked(days=3), replied().
BRANCH_FUNCTIONS = ("opened", "clicked", "replied", "booked")


class Mode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"


class Approval(StrEnum):
    REQUIRED = "required"
    AUTO = "auto"


# Top-level defaults written into every normalised definition, so that spelling a default out
# does not make a new version.
DEFAULTS: dict[str, Any] = {
    "target": "contact",
    "visibility": "company",
    "timezone": "UTC",
    "use_contact_timezone": True,
    "approval": Approval.REQUIRED.value,
}
_STEP_CONTENT = (
    "name", "description", "subject", "body", "html", "template", "instructions", "assignee",
    "channel", "whatsapp_template", "attachments", "compose", "url", "payload", "if", "then",
    "else",
    "next",
)  # fmt: skip


# What a variant of a message step may carry instead of the step's own (DESIGN.md: variants).
VARIANT_CONTENT = (
    "name", "subject", "body", "html", "template", "attachments", "whatsapp_template",
)  # fmt: skip
DEFAULT_VARIANT_WEIGHT = 1
# What `compose.command` holds: the name of a composer in seqctl.yaml, never a command line.
COMPOSER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Variant:
    """One version of a message step: its id, its share of the enrollments, its content."""

    id: str
    weight: float
    spec: Mapping[str, Any]  # the variant's own content, normalised like a step's


@dataclass(frozen=True)
class Step:
    """One normalised step: what to do, after which waits, with which content."""

    id: str
    type: StepType
    mode: Mode
    waits: tuple[Wait, ...]
    day: int | None
    spec: Mapping[str, Any]  # the step's normalised content (subject, body, template_source...)

    @property
    def is_message(self) -> bool:
        return self.type in MESSAGE_TYPES

    @property
    def is_manual(self) -> bool:
        return self.mode is Mode.MANUAL

    @property
    def variants(self) -> tuple[Variant, ...]:
        """The step's A/B variants, in the playbook's order; () for a step without."""
        return tuple(
            Variant(
                str(v["id"]),
                float(v.get("weight", DEFAULT_VARIANT_WEIGHT)),
                {k: x for k, x in v.items() if k not in ("id", "weight")},
            )
            for v in self.spec.get("variants") or ()
        )

    @property
    def winner(self) -> str | None:
        """The variant that ended the test (`winner:`): every new send uses it."""
        found = self.spec.get("winner")
        return str(found) if found is not None else None

    def with_variant(self, variant_id: str) -> Step:
        """This step as one variant renders it: the variant's content over the step's.

        A variant's `body` or `template` replaces both of the step's; its `attachments` replace
        the step's list. The variants themselves are left out.
        """
        chosen = next((v for v in self.variants if v.id == variant_id), None)
        if chosen is None:
            raise KeyError(variant_id)
        spec = {k: v for k, v in self.spec.items() if k not in ("variants", "winner")}
        if "body" in chosen.spec or "template_source" in chosen.spec or "template" in chosen.spec:
            for key in ("body", "template", "template_source"):
                spec.pop(key, None)
        spec.update(chosen.spec)
        return Step(self.id, self.type, self.mode, self.waits, self.day, spec)


@dataclass(frozen=True)
class SequenceDef:
    """A normalised playbook: the definition a version stores, and its digest."""

    id: str
    definition: Mapping[str, Any]
    steps: tuple[Step, ...]
    digest: str

    @property
    def name(self) -> str:
        return str(self.definition.get("name") or self.id)

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def index(self, step_id: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), None)


def digest_of(definition: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a normalised definition."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def normalise(data: Mapping[str, Any], sources: Sources | None = None) -> SequenceDef:
    """The model of schema-valid playbook data; `template:` files are read through `sources`.

    Attachments are recorded by name, size and SHA-256, so changing a file makes a new version.
    Only files inside the repository are read (see files.py); without sources, none are.
    """
    definition: dict[str, Any] = {**DEFAULTS}
    definition.update({k: v for k, v in data.items() if k != "steps"})
    steps: list[dict[str, Any]] = []
    pending_waits: list[str] = []
    pending_day: int | None = None
    for raw in data["steps"]:
        if "wait" in raw:
            pending_waits.append(str(parse_wait(raw["wait"])))
        if "day" in raw:
            pending_day = int(raw["day"])
        if raw["type"] == StepType.WAIT:
            continue
        step_type = StepType(raw["type"])
        default_mode = Mode.MANUAL if step_type in ALWAYS_MANUAL else Mode.AUTO
        step: dict[str, Any] = {
            "id": raw.get("id") or f"step-{len(steps) + 1}",
            "type": step_type.value,
            "mode": Mode.MANUAL.value
            if step_type in ALWAYS_MANUAL
            else raw.get("mode", default_mode),
        }
        if pending_waits:
            step["waits"] = pending_waits
        if pending_day is not None:
            step["day"] = pending_day
        step.update(_content(raw, _STEP_CONTENT, sources))
        if "variants" in raw:
            step["variants"] = [_variant(v, sources) for v in raw["variants"]]
        if "winner" in raw:
            step["winner"] = raw["winner"]
        steps.append(step)
        pending_waits, pending_day = [], None
    definition["steps"] = steps
    return from_definition(definition)


def _variant(raw: Mapping[str, Any], sources: Sources | None) -> dict[str, Any]:
    """A variant normalised as a step's content is: its weight spelled out, files read in."""
    variant: dict[str, Any] = {
        "id": raw["id"],
        "weight": raw.get("weight", DEFAULT_VARIANT_WEIGHT),
    }
    variant.update(_content(raw, VARIANT_CONTENT, sources))
    return variant


def _content(
    raw: Mapping[str, Any], keys: Iterable[str], sources: Sources | None
) -> dict[str, Any]:
    """A step's (or a variant's) content keys as written, its attachments described and its
    template file read in (through `sources`: from inside the repository only)."""
    content = {key: raw[key] for key in keys if key in raw}
    if "attachments" in raw:
        content["attachments"] = [describe_attachment(n, sources) for n in raw["attachments"]]
    if "template" in raw and sources is not None:
        found = sources.template(raw["template"]).path
        source = read_template(found)[0] if found is not None else None
        if source is not None:
            content["template_source"] = source
    return content


def from_definition(definition: Mapping[str, Any]) -> SequenceDef:
    """Rebuild the model from a stored normalised definition (a published version)."""
    steps = tuple(
        Step(
            id=s["id"],
            type=StepType(s["type"]),
            mode=Mode(s["mode"]),
            waits=tuple(parse_wait(w) for w in s.get("waits", ())),
            day=s.get("day"),
            spec={k: v for k, v in s.items() if k not in ("id", "type", "mode", "waits", "day")},
        )
        for s in definition["steps"]
    )
    return SequenceDef(str(definition["sequence"]), definition, steps, digest_of(definition))


MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS_TOTAL = 2 * MAX_ATTACHMENT_BYTES  # of one message: a mail server refuses more


def describe_attachment(name: str, sources: Sources | None) -> dict[str, Any]:
    """{name, size, sha256} of an attachment file; just {name} when it cannot be found or may
    not be read, {name, size} when it is too large to attach. A name with `..` also records
    the repository-relative `path` it was found at: the tick sends only such names."""
    found = sources.attachment(name) if sources is not None else None
    if found is None or found.path is None:
        return {"name": name}
    described: dict[str, Any] = {"name": name}
    if climbs(name):
        described["path"] = found.relative
    try:
        status = found.path.stat()
        if status.st_size > MAX_ATTACHMENT_BYTES:
            return {**described, "size": status.st_size}  # not read: lint reports its size
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)
        size, digest = _digest(found.path, stamp)
    except OSError:
        return {"name": name}
    return {**described, "size": size, "sha256": digest}


@functools.lru_cache(maxsize=256)
def _digest(path: Path, stamp: tuple[int, ...]) -> tuple[int, str]:
    """Size and SHA-256 of a file, read once however many steps or playbooks attach it (while
    its inode, size and times stay the same; publish checks the bytes it stores again)."""
    content = path.read_bytes()
    return len(content), hashlib.sha256(content).hexdigest()
