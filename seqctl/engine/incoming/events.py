"""Events in: replies, bounces, unsubscribes, ... and what each does to a contact's enrollments.

Rules come from the playbook's `on:` block, per event type: exit, pause or continue, with
defaults a sales team expects (a reply or a booked meeting ends the sequence; an unsubscribe,
a complaint or a STOP by text always does, whatever the playbook says). Opt-outs and hard
bounces put the address on the suppression list (suppression.py), for every contact that
has it. Events with an id are recorded once.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from seqctl.engine.contacts.lines import Lines
from seqctl.engine.contacts.strict_json import BadValue, decode_line
from seqctl.engine.enrollments.enrollment import resume_enrollment
from seqctl.engine.incoming import suppression
from seqctl.engine.incoming.addresses import stop_text
from seqctl.engine.run.advance import exit_enrollment
from seqctl.engine.run.runtime import Versions
from seqctl.errors import InputError, SeqctlError
from seqctl.store import Store
from seqctl.store.records import ContactRow, EnrollmentRecord, MessageRecord, NewEvent, NewHistory
from seqctl.store.states import RUNNING_STATES
from seqctl.timeutil import format_instant, parse_instant, zone

if TYPE_CHECKING:
    from seqctl.engine.enrollments.autoenroll import AutoEnroll
    from seqctl.engine.sequences.visibility import Viewer

EVENT_TYPES = ("reply", "open", "click", "bounce", "unsubscribe", "complaint", "meeting_booked",
               "inbound", "out_of_office")  # fmt: skip
# Opt-outs: they end every running enrollment of the contact, whatever the playbook says.
OPT_OUTS = ("unsubscribe", "complaint")
DEFAULT_RULES = {"reply": "exit", "bounce": "exit", "unsubscribe": "exit", "complaint": "exit",
                 "meeting_booked": "exit", "open": "continue", "click": "continue",
                 "inbound": "continue", "out_of_office": "pause",
                 "reject": "continue"}  # fmt: skip
EXIT_REASONS = {"reply": "replied", "bounce": "bounced", "unsubscribe": "unsubscribed",
                "complaint": "complained",
                "meeting_booked": "meeting booked", "out_of_office": "out of office",
                "open": "opened", "click": "clicked", "inbound": "wrote in",
                "reject": "rejected"}  # fmt: skip
OUT_OF_OFFICE_DAYS = 7


@dataclass(frozen=True)
class Event:
    """An event as given: by `seqctl event`, a JSONL line, or the HTTP receiver."""

    type: str
    contact: str
    at: datetime
    sequence: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    message: int | None = None


@dataclass
class EventReport:
    recorded: int = 0
    duplicates: int = 0
    exited: int = 0
    paused: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)

    def as_json(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "exited": self.exited,
            "paused": self.paused,
            "refused": [{"row": where, "reason": reason} for where, reason in self.refused],
        }


def parse_event(fields: Mapping[str, Any], *, now: datetime) -> Event:
    """An Event from a JSON object or command-line fields; InputError says what is wrong."""
    kind = fields.get("type")
    if kind not in EVENT_TYPES:
        raise InputError(f"unknown event type {kind!r} (one of {', '.join(EVENT_TYPES)})")
    contact = fields.get("contact")
    if not isinstance(contact, str) or not contact:
        raise InputError("an event needs a contact key")
    at = parse_instant(str(fields["at"]), what="event time") if fields.get("at") else now
    data = fields.get("data") or {}
    if not isinstance(data, Mapping):
        raise InputError("event data must be an object")
    message = fields.get("message")
    return Event(
        str(kind),
        contact,
        at,
        fields.get("sequence"),
        dict(data),
        str(fields["id"]) if fields.get("id") is not None else None,
        int(message) if isinstance(message, int | str) and str(message).isdigit() else None,
    )


def record(
    store: Store,
    events: Iterable[tuple[str, Event | str]],
    *,
    now: datetime,
    viewer: Viewer | None = None,
    versions: Versions | None = None,
) -> EventReport:
    """Record events and apply their rules. Items are (where, event) or (where, refusal reason).

    An event naming a sequence the viewer may not see is refused as naming an unknown one. An
    event without a sequence is a fact about the contact: its rules apply in every sequence
    (an unsubscribe must stop them all, whoever records it). `versions`: a cache of published
    versions to share between calls (one per message of a mailbox sync), else one for this call.
    """
    report = EventReport()
    see = _Sight(store, viewer)
    versions = versions or Versions(store)
    changed = _ContactChanges(store, now)
    pending = iter(events)
    # A few hundred events a transaction: one each made a big import wait on the disk.
    while chunk := list(itertools.islice(pending, EVENTS_PER_TRANSACTION)):
        with store.transaction():
            for where, item in chunk:
                counts = (report.recorded, report.duplicates, report.exited, report.paused)
                try:
                    with store.transaction():  # a savepoint: a bad event takes only itself back
                        _record_one(store, versions, where, item, now, report, changed, see)
                except SeqctlError as exc:
                    report.recorded, report.duplicates, report.exited, report.paused = counts
                    report.refused.append((where, str(exc)))
    return report


EVENTS_PER_TRANSACTION = 500


def _record_one(
    store: Store,
    versions: Versions,
    where: str,
    item: Event | str,
    now: datetime,
    report: EventReport,
    changed: _ContactChanges,
    see: _Sight,
) -> None:
    if isinstance(item, str):
        report.refused.append((where, item))
        return
    contact = store.contact(item.contact)
    if contact is None:
        report.refused.append((where, f"unknown contact '{item.contact}'"))
        return
    if item.sequence is not None and (store.sequence(item.sequence) is None or not see(item)):
        report.refused.append((where, f"unknown sequence '{item.sequence}'"))
        return
    stored, about = _store_event(store, item, now)
    if stored is None:
        report.duplicates += 1
        return
    report.recorded += 1
    named = store.message(item.message) if item.message is not None else None
    entries = suppression.opt_out_entries(item.type, item.data, contact, named, item.at)
    if entries:
        store.suppress(entries)
    kind = item.type
    if kind == "inbound" and stop_text(item.data) is not None:
        kind = "unsubscribe"  # a STOP by text: an opt-out, wherever the contact is enrolled
    if _apply(store, versions, item, kind, now, report, about):
        changed(contact.key)


class _Sight:
    """Whether the viewer may see an event's sequence, asked of the catalog once a sequence."""

    def __init__(self, store: Store, viewer: Viewer | None) -> None:
        self.store, self.viewer = store, viewer
        self._seen: dict[str, bool] = {}

    def __call__(self, event: Event) -> bool:
        from seqctl.engine.sequences.catalog import visible

        name = event.sequence
        if name is None or self.viewer is None:
            return True
        if name not in self._seen:
            self._seen[name] = visible(self.store, name, self.viewer)
        return self._seen[name]


class _ContactChanges:
    """An `on:` rule set a contact's attributes: another sequence's `enroll_when` may have
    become true (a reply marks them `status: interested`, say). Its rules are read once."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store, self.now = store, now
        self._auto: AutoEnroll | None = None

    def __call__(self, contact: str) -> None:
        if self._auto is None:
            from seqctl.engine.enrollments.autoenroll import AutoEnroll

            self._auto = AutoEnroll(self.store, self.now, None)
        self._auto.check([contact])


def _store_event(
    store: Store, event: Event, now: datetime
) -> tuple[int | None, MessageRecord | None]:
    """(the stored event's id, None for a duplicate; the message it is about, if any)."""
    sequence, step, message = event.sequence, None, event.message
    found = store.message(message) if message is not None else None
    if found is None:
        found = store.last_sent_message(event.contact, sequence)
    if found is not None:
        sequence, step, message = found.sequence, found.step, found.id
    stored = store.add_event(
        NewEvent(
            contact=event.contact,
            type=event.type,
            at=event.at,
            created_at=now,
            event_id=event.event_id,
            sequence=sequence,
            step=step,
            message=message,
            data_json=json.dumps(dict(event.data), sort_keys=True) if event.data else None,
        )
    )
    return stored, found


def _apply(
    store: Store,
    versions: Versions,
    event: Event,
    kind: str,
    now: datetime,
    report: EventReport,
    about: MessageRecord | None = None,
) -> bool:
    """Apply the rules for `kind` (the event's type, or `unsubscribe` for a STOP by text);
    True when a rule set attributes of the contact. `about`: the message the event answers,
    whose step its enrollment's history names."""
    updated = False
    at = event.at
    scoped = event.sequence if kind not in (*OPT_OUTS, "bounce") else None
    for enrollment in store.enrollments(contact=event.contact, sequence=scoped, live=True):
        definition = versions.get(enrollment.sequence, enrollment.version).model.definition
        action, updates, days = rule_for(definition, kind)
        if kind == "bounce" and event.data.get("kind", "hard") != "hard":
            action = "continue"  # a soft bounce (mailbox full, try later) is only recorded
        if updates:
            store.upsert_contacts([ContactRow(event.contact, None, None, None, dict(updates))], now)
            updated = True
        detail = _describe(event)
        step = about.step if about is not None and about.enrollment == enrollment.id else None
        if action == "exit":
            report.exited += 1
            reason = EXIT_REASONS[kind]
            exit_enrollment(
                store,
                enrollment,
                at=at,
                reason=reason,
                kind=event.type,
                detail=detail,
                step_id=step,
            )
        elif action == "pause" and enrollment.state in RUNNING_STATES:
            # Only a running enrollment pauses: a failed one keeps its failure and reason (an
            # out-of-office must not hide it), a paused one its pause (by a person, say).
            report.paused += 1
            resume = _resume_at(event, days, definition)
            store.set_paused(
                enrollment.id, at=now, reason=EXIT_REASONS[event.type], resume_at=resume
            )
            back = f"back {format_instant(resume)}" if resume else None
            noted = "; ".join(x for x in (detail, back) if x) or None
            store.add_history([NewHistory(enrollment.id, at, event.type, step=step, detail=noted)])
        else:
            store.add_history([NewHistory(enrollment.id, at, event.type, step=step, detail=detail)])
    return updated


def rule_for(definition: Mapping[str, Any], kind: str) -> tuple[str, Mapping[str, Any], int | None]:
    """(action, attributes to set, pause days) for an event type under a playbook's `on:`."""
    rule = (definition.get("on") or {}).get(kind, DEFAULT_RULES[kind])
    if isinstance(rule, Mapping):
        action, updates, days = (
            rule.get("action", "continue"),
            rule.get("set") or {},
            rule.get("days"),
        )
    else:
        action, updates, days = str(rule), {}, None
    if kind in OPT_OUTS:
        action = "exit"  # an opt-out always ends it, whatever the playbook says
    return action, updates, days


def _resume_at(event: Event, days: int | None, definition: Mapping[str, Any]) -> datetime | None:
    """When a pause ends by itself: an out-of-office's return date, else after `days`."""
    returns = event.data.get("return_date")
    if returns:
        try:
            back = date.fromisoformat(str(returns))
        except ValueError:
            raise InputError(f"return_date {returns!r} is not a date such as 2026-11-30") from None
        local = datetime.combine(back, time(0), zone(str(definition.get("timezone", "UTC"))))
        return local.astimezone(UTC)
    if days is None and event.type == "out_of_office":
        days = OUT_OF_OFFICE_DAYS
    return event.at + timedelta(days=days) if days else None


def _describe(event: Event) -> str | None:
    """The event's details for the history (its kind is already the row's kind)."""
    return describe(event.data)


def describe(data: Mapping[str, Any]) -> str | None:
    """An event's details as one line: NAME=VALUE pairs; for mail read from a mailbox
    (`inbox sync`), first where it came from, how it was matched and why it is this event."""
    rest = dict(data)
    mailbox = rest.pop("mailbox", None)
    shown = ("match", "why", "return_date")  # the reason says the return date
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(rest.items()) if k not in shown)
    if mailbox is None:
        return ", ".join(f"{k}={v}" for k, v in sorted(rest.items())) or None
    head = f"from the mailbox {mailbox}, matched by {rest.get('match')}: {rest.get('why')}"
    return f"{head}; {pairs}" if pairs else head


def resume_due(store: Store, now: datetime) -> int:
    """Enrollments paused until a date (out of office) that has come: resumed, due times moved."""
    ready: list[EnrollmentRecord] = store.paused_until(now)
    with store.transaction():
        for enrollment in ready:
            resume_enrollment(store, enrollment, now=now, kind="back")
    return len(ready)


def read_events(
    lines: Iterable[str], *, name: str, now: datetime
) -> Iterable[tuple[str, Event | str]]:
    """Events from JSON Lines, each with where it came from; a bad line becomes its reason.

    Lines are checked as contact files' are: a byte that is not UTF-8, a NUL, NaN, nesting
    past 32 levels, ... refuse that line alone.
    """
    checked = Lines(lines)
    problems = checked.problems
    for number, line in enumerate(checked, start=1):
        where = f"{name}:{number}"
        if problems and number in problems:
            yield where, problems[number]
            continue
        if not line.strip():
            continue
        try:
            fields = decode_line(line.strip())
        except BadValue as exc:
            yield where, str(exc)
            continue
        if not isinstance(fields, dict):
            yield where, "each line must be a JSON object"
            continue
        try:
            yield where, parse_event(fields, now=now)
        except InputError as exc:
            yield where, exc.message
