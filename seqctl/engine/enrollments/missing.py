"""Fill in missing data: enrolled contacts lacking a value that a step still ahead of them needs.

Each upcoming step's texts are rendered for the contact, the way the tick would render them. A
missing variable is noted, filled with a placeholder, and the text rendered again, until it
renders: so every missing value is found, and a value the template handles (`| default`,
`{% if %}`) is never reported. What is missing from the contact can be filled in a CSV and imported
back with `seqctl contacts import`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from seqctl import render
from seqctl.engine.outbox.routing import ADDRESS_FIELD
from seqctl.engine.run.runtime import RunnableVersion, Versions
from seqctl.engine.run.steps import variables_for
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound
from seqctl.playbook.model import MESSAGE_TYPES, Step, StepType
from seqctl.store import Store
from seqctl.store.states import LIVE_STATES, EnrollmentState

PLACEHOLDER = "\u2026"  # stands in for a missing value so that rendering can go on


@dataclass(frozen=True)
class Lack:
    """One contact's missing values: contact attributes (CSV columns) and other variables."""

    contact: str
    fields: Mapping[str, Any]  # the contact's current values
    attributes: tuple[str, ...]  # `contact.X` names without the prefix
    others: tuple[tuple[str, str], ...]  # (variable, step id), e.g. ("enrollment.plan", "offer")


@dataclass(frozen=True)
class MissingReport:
    sequence: str
    lacks: list[Lack]

    @property
    def columns(self) -> list[str]:
        """The attributes missing for anyone, sorted: the CSV's columns after `key`."""
        return sorted({name for lack in self.lacks for name in lack.attributes})

    def write_csv(self, out: IO[str]) -> None:
        """`key,<attributes>`: current values, empty cells for what is missing."""
        columns = self.columns
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["key", *columns])
        for lack in self.lacks:
            if lack.attributes:
                writer.writerow([lack.contact, *(_cell(lack.fields.get(c)) for c in columns)])


def _cell(value: Any) -> str:
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value, ensure_ascii=False)


def find_missing(
    store: Store, sequence: str, now: datetime, *, viewer: Viewer | None = None
) -> MissingReport:
    """The live enrollments of a sequence whose contact lacks what a step ahead needs."""
    require_visible(store, sequence, viewer)
    if store.sequence(sequence) is None:
        raise NotFound(f"no sequence '{sequence}' (seqctl sequences list shows them)")
    versions = Versions(store)
    ahead: dict[tuple[int, int, bool], tuple[int, ...]] = {}
    lacks: list[Lack] = []
    for enrollment, contact in store.enrollments_with_contacts(
        states=LIVE_STATES, sequence=sequence
    ):
        version = versions.get(sequence, enrollment.version)
        # A waiting enrollment's current step already made its action: only later steps count.
        key = (enrollment.version, enrollment.step, enrollment.state == EnrollmentState.WAITING)
        if key not in ahead:
            ahead[key] = upcoming(version, enrollment.step, include_current=not key[2])
        enrolled_at = enrollment.enrolled_at
        fields = contact.fields()
        attributes, others = lacking(
            version,
            [version.steps[i] for i in ahead[key]],
            fields,
            enrollment.vars,
            enrollment_id=enrollment.id,
            enrolled_at=enrolled_at,
            now=now,
        )
        if attributes or others:
            lacks.append(Lack(contact.key, fields, attributes, others))
    return MissingReport(sequence, lacks)


def upcoming(
    version: RunnableVersion, index: int, *, include_current: bool = True
) -> tuple[int, ...]:
    """The steps that can still come, in step order: reachable by order, `next:` and branches."""
    seen: set[int] = set()
    todo = [index] if include_current else list(_following(version, index))
    while todo:
        current = todo.pop()
        if current in seen or current >= len(version.steps):
            continue
        seen.add(current)
        todo.extend(_following(version, current))
    return tuple(sorted(seen))


def _following(version: RunnableVersion, index: int) -> Iterator[int]:
    step = version.steps[index]
    if step.type is not StepType.BRANCH:
        yield version.after(index)
        return
    for choice in (step.spec.get("then"), step.spec.get("else")):
        found = version.model.index(str(choice)) if choice is not None else index + 1
        if found is not None:
            yield found


def lacking(
    version: RunnableVersion,
    steps: list[Step],
    contact_fields: Mapping[str, Any],
    enrollment_vars: Mapping[str, Any],
    *,
    enrollment_id: int | None,
    enrolled_at: datetime,
    now: datetime,
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(contact attributes, (other variable, step id)) these steps need and the contact lacks."""
    fields = dict(contact_fields)
    variables = dict(enrollment_vars)
    attributes: dict[str, None] = {}  # in the order found
    others: dict[tuple[str, str], None] = {}
    roots = {"contact", version.target}
    for step in steps:
        step, _ = version.variant(step, enrollment_id)  # the A/B variant it will get
        address = _address_field(version, step, fields)
        if address is not None:
            attributes[address] = None
            fields[address] = PLACEHOLDER
        for source, html in _sources(step):
            tried: set[str] = set()
            while True:
                context = variables_for(
                    version, step, enrollment_id, fields, variables, enrolled_at, now
                )
                try:
                    render.render(source, context, html=html)
                    break
                except render.MissingVariable as exc:
                    name = exc.name
                    if name in tried:
                        break
                    tried.add(name)
                    root, _, rest = name.partition(".")
                    if root in roots and rest and "." not in rest:
                        attributes[rest] = None
                        fields[rest] = PLACEHOLDER
                    elif root == "enrollment" and rest and "." not in rest:
                        others[(name, step.id)] = None
                        variables[rest] = PLACEHOLDER
                    else:  # the playbook's own (sender.X) or deeper: nothing to fill in here
                        others[(name, step.id)] = None
                        break
                except render.RenderError:
                    break  # not missing data (or a placeholder the template cannot use)
    return tuple(attributes), tuple(others)


def _address_field(version: RunnableVersion, step: Step, fields: Mapping[str, Any]) -> str | None:
    """The routing field an automatic message needs and the contact lacks, else None."""
    if step.is_manual or not step.is_message:
        return None
    names = version.model.definition.get("contact_fields") or {}
    email = str(names.get("email", "email"))
    phone = str(names.get("phone", "phone"))
    chosen = step.spec.get("channel")
    if chosen == "auto":
        if fields.get(email) or fields.get(phone):
            return None
        kind = step.type
    else:
        kind = StepType(chosen) if chosen else step.type
    name = email if ADDRESS_FIELD[kind] == "email" else phone
    return None if fields.get(name) else name


def _sources(step: Step) -> Iterator[tuple[str, bool]]:
    """The texts the tick renders for this step: (template source, is HTML)."""
    spec = step.spec
    keys: list[str] = []
    if step.is_manual or step.type not in (*MESSAGE_TYPES, StepType.WEBHOOK):
        keys += ["name", "instructions"]
    if step.is_message:
        keys += ["subject", "body" if "body" in spec else "template_source"]
    if step.type is StepType.WEBHOOK:
        keys.append("url")
        if spec.get("payload") is None:
            keys.append("body" if "body" in spec else "template_source")
        yield from ((s, False) for s in _strings(spec.get("payload")))
    for key in keys:
        if spec.get(key) is not None:
            yield str(spec[key]), False
    if step.is_message and not step.is_manual:
        if spec.get("html") is not None:
            yield str(spec["html"]), True
        template = spec.get("whatsapp_template") or {}
        yield from ((str(p), False) for p in template.get("params", []))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
