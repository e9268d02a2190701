"""Published versions ready to run: their model, calendars per zone, and step due times."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from seqctl.errors import NotFound
from seqctl.playbook.model import Approval, SequenceDef, Step, from_definition
from seqctl.schedule import (
    Calendar,
    Window,
    add_wait,
    day_due,
    known_place,
    make_calendar,
    open_at,
    pick_zone,
)
from seqctl.store import Store

Place = tuple[str, str | None]  # a contact's (country, subdivision), for holidays.from_contact


@dataclass
class RunnableVersion:
    """One published version with what the tick needs computed once: calendars per zone."""

    sequence: str
    number: int
    model: SequenceDef
    _calendars: dict[tuple[str, Place | None], Calendar] = field(default_factory=dict, repr=False)
    _variables: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, repr=False
    )
    _prepared: dict[str, tuple[Any, Any, Any]] = field(default_factory=dict, repr=False)
    _release: dict[str, tuple[bool, int | None]] = field(default_factory=dict, repr=False)
    _dues: dict[tuple[int, datetime, str | None, Place | None], datetime] = field(
        default_factory=dict, repr=False
    )
    # A/B tests: winners named by the sequence's newest version, by step id (Versions sets them)
    newer_winners: dict[str, str] = field(default_factory=dict, repr=False)
    _variant_steps: dict[tuple[str, str], Step] = field(default_factory=dict, repr=False)

    @property
    def definition(self) -> dict[str, Any]:
        return dict(self.model.definition)

    @property
    def steps(self) -> tuple[Step, ...]:
        return self.model.steps

    @property
    def approval(self) -> Approval:
        return Approval(self.model.definition.get("approval", Approval.REQUIRED))

    @property
    def target(self) -> str:
        return str(self.model.definition.get("target", "contact"))

    def after(self, index: int) -> int:
        """The step that follows step `index` once it is done: its `next:`, else the one below."""
        target = self.steps[index].spec.get("next") if index < len(self.steps) else None
        if target is None:
            return index + 1
        if target == "end":
            return len(self.steps)
        found = self.model.index(str(target))
        return found if found is not None else index + 1

    def release(self, step_id: str) -> tuple[bool, int | None]:
        """How a message of this step may go: (needs a person's OK, daily cap when it does not).

        `approval: auto` lets everything go; an `auto_approve` rule lets its step go, up to its
        `max_per_day`; a text a program drafted in assisted mode always waits for a person.
        """
        found = self._release.get(step_id)
        if found is None:
            step = self.model.step(step_id)
            compose = (step.spec.get("compose") if step is not None else None) or {}
            rules = self.model.definition.get("auto_approve") or []
            rule = next((r for r in rules if r.get("step") == step_id), None)
            if compose.get("mode") == "assisted":
                found = (True, None)
            elif self.approval is Approval.AUTO:
                found = (False, None)
            elif rule is None:
                found = (True, None)
            else:
                cap = rule.get("max_per_day")
                found = (False, int(cap) if cap is not None else None)
            self._release[step_id] = found
        return found

    def step_variables(self, step: Step) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """`sender`, `sequence` and `step` as templates see them: the same for every contact."""
        found = self._variables.get(step.id)
        if found is None:
            definition = self.model.definition
            found = (
                dict(definition.get("sender") or {}),
                {"id": self.sequence, "name": self.model.name, "version": self.number},
                {"id": step.id, "type": str(step.type), "number": self.model.index(step.id)},
            )
            self._variables[step.id] = found
        return found

    def template_variables(self, step: Step) -> tuple[Any, Any, Any]:
        """step_variables wrapped for templates, once per step rather than per message."""
        found = self._prepared.get(step.id)
        if found is None:
            from seqctl import render  # here: a tick with nothing due never loads Jinja

            sender, sequence, variables = self.step_variables(step)
            found = self._prepared[step.id] = (
                render.prepared(sender, "sender"),
                render.prepared(sequence, "sequence"),
                render.prepared(variables, "step"),
            )
        return found

    def variant(self, step: Step, enrollment: int | None) -> tuple[Step, str | None]:
        """The step as this enrollment gets it (its A/B variant's content), and the variant id."""
        if not step.spec.get("variants"):
            return step, None
        from seqctl.engine.messages.variants import choose

        chosen = choose(step, self.sequence, enrollment, winner=self.newer_winners.get(step.id))
        if chosen is None:
            return step, None
        key = (step.id, chosen)
        found = self._variant_steps.get(key)
        if found is None:
            found = self._variant_steps[key] = step.with_variant(chosen)
        return found, chosen

    def zone_for(self, contact_zone: str | None) -> str:
        definition = self.model.definition
        return pick_zone(
            contact_zone,
            definition.get("timezone"),
            bool(definition.get("use_contact_timezone", True)),
        )

    @property
    def contact_holidays(self) -> tuple[str, str | None] | None:
        """`holidays.from_contact` and `subdivision_field`: the contact fields naming their own
        country and subdivision, whose holidays replace the sequence's; None without."""
        spec = self.model.definition.get("holidays") or {}
        field_name = spec.get("from_contact")
        return (str(field_name), spec.get("subdivision_field")) if field_name else None

    def place_of(self, contact: Mapping[str, Any]) -> Place | None:
        """The contact's own (country, subdivision) for holidays, when the playbook takes
        closed days from the contact and their country is a known one; else None."""
        fields = self.contact_holidays
        if fields is None:
            return None
        country, subdivision = fields
        return known_place(contact.get(country), contact.get(subdivision) if subdivision else None)

    def holidays_note(self, place: Place | None) -> str | None:
        """Whose public holidays close days for a contact, when the playbook takes them from
        the contact (`BR-SP, the contact's country`); None when it does not."""
        if self.contact_holidays is None:
            return None
        if place is not None:
            return f"{'-'.join(p for p in place if p)}, the contact's country"
        spec = self.model.definition.get("holidays") or {}
        country = spec.get("country")
        if country:
            where = "-".join(str(p).upper() for p in (country, spec.get("subdivision")) if p)
            return f"{where}, the sequence's (the contact has no known country)"
        return "none (the contact has no known country)"

    def calendar(self, contact_zone: str | None, place: Place | None = None) -> Calendar:
        """The contact's calendar: their zone (or the sequence's), the window, the holidays
        (their own country's, with `place`). One per (zone, place), built once."""
        zone = self.zone_for(contact_zone)
        found = self._calendars.get((zone, place))
        if found is None:
            definition = self.model.definition
            spec = definition.get("send_window")
            window = (
                Window.parse(spec.get("days"), spec.get("start"), spec.get("end")) if spec else None
            )
            closed = definition.get("holidays") or {}
            country, subdivision = place or (closed.get("country"), closed.get("subdivision"))
            found = make_calendar(
                zone,
                window=window,
                country=country,
                subdivision=subdivision,
                dates=closed.get("dates", ()),
            )
            self._calendars[(zone, place)] = found
        return found

    def due(
        self,
        index: int,
        *,
        anchor: datetime,
        enrolled_at: datetime,
        contact_zone: str | None,
        place: Place | None = None,
    ) -> datetime | None:
        """When step `index` is due, counted from its anchor; None past the last step."""
        if index >= len(self.steps):
            return None
        # A tick moves thousands of enrollments on at the same `now`, and they share a few
        # hundred zones at most: the same wait from the same anchor in the same calendar is
        # computed once.
        key = (index, anchor, contact_zone, place)
        found = self._dues.get(key)
        if found is None:
            step = self.steps[index]
            cal = self.calendar(contact_zone, place)
            if step.day is not None:
                return day_due(enrolled_at, step.day, cal)  # counted from the enrollment
            if len(self._dues) > _DUE_CACHE:
                self._dues.clear()
            moment = anchor
            for wait in step.waits:
                moment = add_wait(moment, wait, cal)
            found = self._dues[key] = open_at(moment, cal)
        return found


_DUE_CACHE = 10_000


class Versions:
    """Published versions by (sequence, number), each loaded and prepared once per run."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, int], RunnableVersion] = {}

    def place(self, version: RunnableVersion, contact: str) -> Place | None:
        """A contact's own country for holidays, read only for a playbook that takes them from
        the contact (holidays.from_contact): every other message pays nothing for it."""
        if version.contact_holidays is None:
            return None
        record = self.store.contact(contact)
        return version.place_of(record.fields()) if record is not None else None

    def get(self, sequence: str, number: int | None = None) -> RunnableVersion:
        if number is not None and (sequence, number) in self._cache:
            return self._cache[(sequence, number)]
        record = self.store.version(sequence, number)
        if record is None:
            raise NotFound(
                f"sequence '{sequence}' has no published version"
                + (f" {number}" if number is not None else "")
            )
        key = (sequence, record.number)
        if key not in self._cache:
            runnable = RunnableVersion(sequence, record.number, from_definition(record.definition))
            if number is not None and any(s.spec.get("variants") for s in runnable.steps):
                runnable.newer_winners = self._newest_winners(sequence)
            self._cache[key] = runnable
        return self._cache[key]

    def _newest_winners(self, sequence: str) -> dict[str, str]:
        """The winners the newest version names, by step id: they end a test for everyone."""
        newest = self.store.version(sequence)
        steps = newest.definition.get("steps", []) if newest is not None else []
        return {str(s["id"]): str(s["winner"]) for s in steps if s.get("winner")}
