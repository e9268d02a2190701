"""Rows as frozen records: what the store hands to the layers above, and what it is given.

Times are aware UTC datetimes, both ways. The database keeps them as fixed-width UTC text;
each record read back is built by its `from_row`, the one place that text becomes a datetime,
and the store formats the times it is given as it writes them.

What a write is given is a record too, never a bare tuple. The NamedTuples among them (cheap:
the tick makes one per send, per retry) keep their fields in the order of their statement's
parameters (an update's row id last, as in `WHERE id = ?`); the store reads them by name.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from seqctl.store.sql import TimeTexts
from seqctl.timeutil import format_instant, from_db


@dataclass(frozen=True)
class SequenceRecord:
    id: str
    status: str
    created_at: datetime
    updated_at: datetime
    paused_at: datetime | None
    latest_version: int | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SequenceRecord:
        sequence_id, status, created, updated, paused, latest = row
        return cls(sequence_id, status, from_db(created), from_db(updated), from_db(paused), latest)


@dataclass(frozen=True)
class VersionRecord:
    sequence: str
    number: int
    digest: str
    definition_json: str
    source: str | None
    published_at: datetime
    published_by: str | None
    git_commit: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> VersionRecord:
        sequence, number, digest, definition, source, published, by, commit = row
        return cls(sequence, number, digest, definition, source, from_db(published), by, commit)

    @property
    def definition(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.definition_json)
        return data


@dataclass(frozen=True)
class ContactRecord:
    key: str
    email: str | None
    phone: str | None
    timezone: str | None
    attributes_json: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ContactRecord:
        key, email, phone, zone, attributes, created, updated = row
        return cls(key, email, phone, zone, attributes, from_db(created), from_db(updated))

    @property
    def attributes(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.attributes_json)
        return data

    def fields(self) -> dict[str, Any]:
        """Everything templates see as `contact.<name>`: routing fields and attributes."""
        routing = {
            "key": self.key,
            "email": self.email,
            "phone": self.phone,
            "timezone": self.timezone,
        }
        return {**self.attributes, **{k: v for k, v in routing.items() if v is not None}}


class SuppressionRow(NamedTuple):
    """An entry of the suppression list: an address, phone, domain (or legacy contact key)."""

    value: str
    kind: str  # email | phone | domain | contact
    reason: str
    at: datetime
    by: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SuppressionRow:
        value, kind, reason, at, *by = row
        return cls(value, kind, reason, from_db(at), *by)

    def to_db(self, times: TimeTexts) -> tuple[str, str, str, str | None, str | None]:
        """The entry as the store writes it (`times`: one for the whole batch)."""
        return (self.value, self.kind, self.reason, times[self.at], self.by)


@dataclass(frozen=True)
class SuppressionChange:
    """One line of the suppression list's history: an entry added or lifted, by whom, why."""

    at: datetime
    value: str
    kind: str
    change: str  # added | lifted
    reason: str | None
    by: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SuppressionChange:
        at, value, kind, change, reason, by = row
        return cls(from_db(at), value, kind, change, reason, by)


class News(NamedTuple):
    """A history row an owner hears about in their digest, with its enrollment's facts."""

    id: int
    sequence: str
    version: int
    contact: str
    kind: str
    step: str | None
    at: datetime
    detail: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> News:
        news_id, sequence, version, contact, kind, step, at, detail = row
        return cls(news_id, sequence, version, contact, kind, step, from_db(at), detail)


class Upserted(NamedTuple):
    """What an upsert of contacts wrote: rows new, and known rows whose values changed."""

    created: int
    updated: int


class ContactRow(NamedTuple):
    """A contact as read from a file, ready to upsert (a tuple: a million are made per import)."""

    key: str
    email: str | None
    phone: str | None
    timezone: str | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class EnrollmentRecord:
    id: int
    sequence: str
    version: int
    contact: str
    state: str
    step: int
    anchor_at: datetime
    next_due_at: datetime | None
    vars_json: str | None
    reason: str | None
    enrolled_at: datetime
    updated_at: datetime
    paused_at: datetime | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EnrollmentRecord:
        (i, sequence, version, contact, state, step, anchor, due, vars_json, reason, enrolled,
         updated, paused) = row  # fmt: skip
        return cls(
            i, sequence, version, contact, state, step, from_db(anchor), from_db(due), vars_json,
            reason, from_db(enrolled), from_db(updated), from_db(paused),
        )  # fmt: skip

    @property
    def vars(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.vars_json) if self.vars_json else {}
        return data


class DueRow(NamedTuple):
    """An active enrollment whose step is due, with what the tick needs of its contact, in one
    read (a tuple: a tick reads every due enrollment, a million of them)."""

    id: int
    sequence: str
    version: int
    contact: str
    step: int
    anchor_at: datetime
    next_due_at: datetime
    vars_json: str | None
    enrolled_at: datetime
    email: str | None
    phone: str | None
    timezone: str | None
    attributes_json: str | None

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[Any]]) -> list[DueRow]:
        """From the due query's columns, in field order."""
        new = tuple.__new__  # what _make does, without its check of the length: a tick's hot path
        return [
            new(cls, (i, sequence, version, contact, step, _parse(anchor), _parse(due),
                      vars_json, _parse(enrolled), email, phone, zone, attributes))
            for (i, sequence, version, contact, step, anchor, due, vars_json, enrolled, email,
                 phone, zone, attributes) in rows
        ]  # fmt: skip


class EnrollmentPosition(NamedTuple):
    """Where an enrollment stands: a tick writes a step's outcome only if it is still there.
    The state reads `paused` while its sequence is not active."""

    state: str
    step: int
    next_due_at: datetime | None

    @classmethod
    def by_id(cls, rows: Iterable[Sequence[Any]]) -> dict[int, EnrollmentPosition]:
        """From rows of (id, state, step, next_due_at), by id."""
        new = tuple.__new__
        return {
            int(i): new(cls, (str(state), int(step), None if due is None else _parse(due)))
            for i, state, step, due in rows
        }


class LiveElsewhere(NamedTuple):
    """A contact's live enrollment in another sequence than the one it is being enrolled in."""

    contact: str
    sequence: str
    version: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LiveElsewhere:
        contact, sequence, version = row
        return cls(str(contact), str(sequence), int(version))


class Transition(NamedTuple):
    """A change of an enrollment's state, written with its history row (a tuple: the tick makes
    one or two for every enrollment it moves, and a frozen dataclass takes longer to make)."""

    enrollment: int
    state: str
    step: int
    anchor_at: datetime
    next_due_at: datetime | None
    reason: str | None
    at: datetime
    kind: str  # the history kind: sent, action, approval, failed, completed, ...
    step_id: str | None
    detail: str | None = None

    def row(self, times: TimeTexts) -> tuple[Any, ...]:
        """Its enrollment's new values, the times as the database keeps them (`times`: one
        for the whole batch): (state, step, anchor_at, next_due_at, reason, updated_at, id)."""
        return (
            self.state,
            self.step,
            times[self.anchor_at],
            times[self.next_due_at],
            self.reason,
            times[self.at],
            self.enrollment,
        )

    def history_row(self, times: TimeTexts) -> tuple[int, str | None, str, str | None, str | None]:
        """Its history row: (enrollment, at, kind, step, detail)."""
        return (self.enrollment, times[self.at], self.kind, self.step_id, self.detail)


class NewDue(NamedTuple):
    """An enrollment's next due time moved (after a pause, say); None: nothing is due."""

    next_due_at: datetime | None
    enrollment: int


class NewHistory(NamedTuple):
    """A history row to write: what happened to an enrollment, when, at which step, and why."""

    enrollment: int
    at: datetime
    kind: str
    step: str | None
    detail: str | None


class StepKind(NamedTuple):
    """A key of the history counted per step: a step's id and a history kind."""

    step: str
    kind: str


@dataclass(slots=True)
class HistoryRecord:
    at: datetime
    sequence: str
    contact: str
    enrollment: int
    step: str | None
    kind: str
    detail: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> HistoryRecord:
        at, sequence, contact, enrollment, step, kind, detail = row
        return cls(from_db(at), sequence, contact, enrollment, step, kind, detail)


@dataclass(frozen=True)
class ActionRecord:
    id: int
    enrollment: int
    sequence: str
    contact: str
    step: str
    type: str
    due_at: datetime
    status: str
    title: str | None
    instructions: str | None
    closed_at: datetime | None
    closed_by: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ActionRecord:
        (i, enrollment, sequence, contact, step, kind, due, status, title, instructions, closed,
         by) = row  # fmt: skip
        return cls(
            i, enrollment, sequence, contact, step, kind, from_db(due), status, title,
            instructions, from_db(closed), by,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActionDay:
    """Open actions of one step of a version due on one UTC date (those overdue: today's)."""

    sequence: str
    version: int
    step: str
    day: date
    count: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ActionDay:
        sequence, version, step, day, count = row
        return cls(str(sequence), int(version), str(step), date.fromisoformat(day), int(count))


@dataclass(slots=True)
class MessageRecord:
    id: int
    idempotency_key: str
    enrollment: int
    sequence: str
    version: int
    step: str
    contact: str
    channel: str
    to_address: str | None
    subject: str | None
    body: str | None
    status: str
    attempts: int
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    provider_id: str | None
    resent: int = 0  # sends whose outcome was unknown, so it went out again with the same key
    failing_since: datetime | None = None  # its first temporary failure (or hold), until sent
    next_attempt_at: datetime | None = None  # a queued message waits until then (retry, daily cap)
    variant: str | None = None  # the A/B variant of its step it was rendered from

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MessageRecord:
        """From the columns in field order, as many as the query read (17 to 21)."""
        values = list(row)
        for index in _MESSAGE_TIMES:
            if index < len(values):
                values[index] = from_db(values[index])
        return cls(*values)

    def as_json(self, keys: Sequence[str]) -> dict[str, Any]:
        """The named fields as `--json` prints them (`to` is the address)."""
        values = {**asdict(self), "to": self.to_address}
        return {key: _json_value(values[key]) for key in keys}


class Sent(NamedTuple):
    """A message sent: when, and the provider's id for it (the tick writes one per send)."""

    at: datetime
    provider_id: str | None
    message: int


class Postponement(NamedTuple):
    """A message back to queued until a later attempt (a temporary failure, a daily cap), why,
    and whether the try it follows counts as an attempt (a message held back was not tried)."""

    error: str | None
    next_attempt_at: datetime
    attempt: bool
    message: int


class Resent(NamedTuple):
    """How many more times a message went out again after an outcome that was unknown."""

    times: int
    message: int


class FailingSince(NamedTuple):
    """A message's temporary failure; its first is kept until it is sent."""

    at: datetime
    message: int


class StepStatus(NamedTuple):
    """A key of the messages counted per step: a step's id and a message status."""

    step: str
    status: str


class StepVariant(NamedTuple):
    """A key of the outcomes counted per A/B variant: a step's id and its variant's."""

    step: str
    variant: str


@dataclass(frozen=True, slots=True)
class FailingChannel:
    """Messages of one type that wait after a temporary failure: how many, when the first of
    them is tried next, and the latest error."""

    message_type: str
    waiting: int
    next_try: datetime | None
    error: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> FailingChannel:
        message_type, waiting, next_try, error = row
        return cls(str(message_type), int(waiting), from_db(next_try), error)


@dataclass(frozen=True, slots=True)
class SentCount:
    """Messages sent in a period, and when the first of them went."""

    count: int
    first_at: datetime | None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SentCount:
        count, first = row
        return cls(int(count), from_db(first))


@dataclass(frozen=True, slots=True)
class EmailMessageRef:
    """What the Message-ID of an email seqctl wrote is made of, and the message's id."""

    id: int
    idempotency_key: str
    sequence: str
    contact: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EmailMessageRef:
        message_id, key, sequence, contact = row
        return cls(int(message_id), str(key), str(sequence), str(contact))


class NewMessage(NamedTuple):
    idempotency_key: str
    enrollment: int
    sequence: str
    version: int
    step: str
    contact: str
    channel: str
    to_address: str | None
    subject: str | None
    body: str | None
    status: str
    created_at: datetime
    extra_json: str | None = None
    sender: str | None = None
    next_attempt_at: datetime | None = None  # deferred by a daily cap until then
    error: str | None = None  # why it was deferred
    variant: str | None = None  # the A/B variant of its step it was rendered from

    def row(self, times: TimeTexts) -> tuple[Any, ...]:
        """Its values for `INSERT INTO messages (idempotency_key, enrollment, sequence,
        version, step, contact, channel, to_address, subject, body, status, created_at, extra,
        sender, next_attempt_at, error, variant)`: the fields, in their order, the times as
        the database keeps them (`times`: one for the whole batch)."""
        return (
            self.idempotency_key,
            self.enrollment,
            self.sequence,
            self.version,
            self.step,
            self.contact,
            self.channel,
            self.to_address,
            self.subject,
            self.body,
            self.status,
            times[self.created_at],
            self.extra_json,
            self.sender,
            times[self.next_attempt_at],
            self.error,
            self.variant,
        )


class NewAction(NamedTuple):
    enrollment: int
    step: str
    type: str
    due_at: datetime
    title: str | None
    instructions: str | None


@dataclass(slots=True)
class Deliverable:
    """A message to send with the enrollment facts needed to move its step on after."""

    message: MessageRecord
    step_index: int
    enrollment_state: str
    anchor_at: datetime
    enrolled_at: datetime
    contact_zone: str | None
    extra_json: str | None = None
    sender: str | None = None

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Deliverable:
        """A message's columns (MessageRecord's first 20), then its enrollment's facts."""
        step, state, anchor, enrolled, zone, extra, sender = row[_MESSAGE_FIELDS:]
        message = MessageRecord.from_row(row[:_MESSAGE_FIELDS])
        return cls(message, step, state, from_db(anchor), from_db(enrolled), zone, extra, sender)

    @property
    def extra(self) -> dict[str, Any]:
        """The extra fields; shared between messages with the same JSON: do not change it."""
        return _extra(self.extra_json) if self.extra_json else {}


@dataclass(frozen=True, slots=True)
class NewEvent:
    contact: str
    type: str
    at: datetime
    created_at: datetime
    event_id: str | None = None
    sequence: str | None = None
    step: str | None = None
    message: int | None = None
    data_json: str | None = None


class StepEvent(NamedTuple):
    """A key of the events counted per step: a step's id and an event type."""

    step: str
    type: str


@dataclass(frozen=True)
class EventRecord:
    id: int
    event_id: str | None
    contact: str
    type: str
    sequence: str | None
    step: str | None
    message: int | None
    at: datetime
    data_json: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EventRecord:
        i, event_id, contact, kind, sequence, step, message, at, data, created = row
        return cls(
            i, event_id, contact, kind, sequence, step, message, from_db(at), data, from_db(created)
        )

    @property
    def data(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.data_json) if self.data_json else {}
        return parsed


@dataclass(frozen=True, slots=True)
class ActionsDue:
    """A sequence's open actions due now, and how many of them are overdue."""

    due: int
    overdue: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ActionsDue:
        due, overdue = row
        return cls(int(due), int(overdue))


@dataclass(frozen=True, slots=True)
class SlotCount:
    """A count in one UTC hour (or minute) of a chart: what happened from `at` on."""

    at: datetime
    count: int

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> SlotCount:
        """From the slot's first characters of a stored time (`YYYY-MM-DDTHH[:MM]`) and a count."""
        slot, count = row
        return cls(from_db(slot + _SLOT_REST[len(slot)]), int(count))


@dataclass(frozen=True, slots=True)
class MessageFailure:
    """Messages of a step that failed with one error, and one contact they were for."""

    step: str
    error: str
    count: int
    contact: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> MessageFailure:
        step, error, count, contact = row
        return cls(str(step), str(error), int(count), str(contact))


@dataclass(frozen=True, slots=True)
class EnrollmentFailure:
    """Enrollments of a sequence that failed for one reason, and one of their contacts."""

    reason: str
    count: int
    contact: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> EnrollmentFailure:
        reason, count, contact = row
        return cls(str(reason), int(count), str(contact))


# Event ids of mail read from a mailbox start with this (engine.inbox); a range over the
# unique index on event_id finds them.
MAIL_EVENT_PREFIX = "mail:"


class SentMail(NamedTuple):
    """An email seqctl sent, by the local part of its Message-ID: what a reply names."""

    local: str
    message: int


@dataclass(frozen=True)
class FolderState:
    """One folder of one inbox: read up to `last_uid` under `uidvalidity`, and the totals."""

    inbox: str
    folder: str
    uidvalidity: int
    last_uid: int
    synced_at: datetime
    error: str | None = None
    messages: int = 0
    events: int = 0
    unmatched: int = 0
    skipped: int = 0

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> FolderState:
        inbox, folder, validity, last_uid, synced, *counts = row
        return cls(inbox, folder, validity, last_uid, from_db(synced), *counts)


@dataclass(frozen=True)
class DatabaseInfo:
    """Which store, which schema, and how much is in it (`seqctl db info`)."""

    store: str  # "sqlite"
    location: str  # the file
    schema: str  # the newest migration applied
    migrations: int
    size_bytes: int
    counts: dict[str, int] = field(default_factory=dict)
    breakdown: dict[str, dict[str, int]] = field(default_factory=dict)


# MessageRecord's times by position (created_at, sent_at, failing_since, next_attempt_at), and
# how many columns the queries that feed Deliverable read for the message.
_MESSAGE_TIMES = (14, 15, 18, 19)
_MESSAGE_FIELDS = 20


# What completes a chart's slot (a stored time's first 13 or 16 characters) into a time.
_SLOT_REST = {13: ":00:00Z", 16: ":00Z"}


# The due rows' times, parsed (a stored time is ISO 8601 text with its Z: an aware datetime).
_parse = datetime.fromisoformat


def _json_value(value: Any) -> Any:
    """A field as `--json` prints it: times as ISO 8601 text."""
    return format_instant(value) if isinstance(value, datetime) else value


@functools.lru_cache(maxsize=256)
def _extra(text: str) -> dict[str, Any]:
    """Parsed once per distinct text: the messages of a step mostly carry the same (the sender)."""
    data: dict[str, Any] = json.loads(text)
    return data
