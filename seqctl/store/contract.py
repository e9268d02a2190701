"""The store contract: every operation the engine, the CLI and `events serve` use.

Everything above the store is typed against `Store` and nothing else, so it does not know which
database it talks to; `SqliteStore` (sqlite/base.py) and `PostgresStore` (postgres/store.py)
implement it. Records in and out are those of `records`; enrollment, message and action
states are the StrEnums of `states` (a `str` parameter takes a member or its text). Times are
aware UTC datetimes both ways: every time parameter, every time of a record written or read
(the database keeps them as fixed-width UTC text: the store formats and parses them at its
edge, nothing above it does).

One Protocol per concept, `Store` has them all. `tests/store/test_contract.py`'s
`missing_operations` checks an implementation against it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from seqctl.store.records import (
    ActionDay,
    ActionRecord,
    ActionsDue,
    ContactRecord,
    ContactRow,
    DatabaseInfo,
    Deliverable,
    DueRow,
    EmailMessageRef,
    EnrollmentFailure,
    EnrollmentPosition,
    EnrollmentRecord,
    EventRecord,
    FailingChannel,
    FailingSince,
    FolderState,
    HistoryRecord,
    LiveElsewhere,
    MessageFailure,
    MessageRecord,
    NewAction,
    NewDue,
    NewEvent,
    NewHistory,
    NewMessage,
    News,
    Postponement,
    Resent,
    Sent,
    SentCount,
    SentMail,
    SequenceRecord,
    SlotCount,
    StepEvent,
    StepKind,
    StepStatus,
    StepVariant,
    SuppressionChange,
    SuppressionRow,
    Transition,
    Upserted,
    VersionRecord,
)

# ---- Parallel work: the processes of a tick on several cores (engine/run/shards.py).


class WriterLock(Protocol):
    """A lock processes that write together take turns through (multiprocessing.Lock)."""

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool: ...

    def release(self) -> None: ...


class Parallel(Protocol):
    """How processes forked from this one work on the same database (the sharded tick)."""

    def close(self) -> None:
        """Before forking: let go of this process's connection (none may cross a fork)."""

    def reopen(self) -> None:
        """Once the forked processes are done: connect this process's store again."""

    def shard(self, ways: int, writers: WriterLock) -> AbstractContextManager[Store]:
        """In a forked process: a store of its own, one of `ways` writing in turns by `writers`.

        A fault of the database met inside (locked, full, ...) comes out as a DatabaseError.
        """


# ---- The database itself: transactions, closing, parallel work, what it holds.


class Database(Protocol):
    def transaction(self) -> AbstractContextManager[Store]:
        """All writes inside happen together or not at all."""

    def unchecked_references(self) -> AbstractContextManager[Store]:
        """Write without checking foreign keys, for writers whose references are sure."""

    def parallel(self) -> Parallel | None:
        """How forked processes share this database; None when they cannot (in memory)."""

    def journals(self) -> Path | None:
        """The folder beside the database file where a tick's connections keep the outcomes
        they report until they are in the database (see engine.outbox.journal); None when
        there is no file to put it beside (in memory, a server), and they wait for it."""

    def info(self) -> DatabaseInfo:
        """The store, its schema version and the rows in each table."""

    def close(self) -> None:
        """Close the connection; the store is not used after."""

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc: object) -> None: ...


# ---- Sequences, their published versions, and the attachments those send.


class Sequences(Protocol):
    def sequence(self, sequence_id: str) -> SequenceRecord | None:
        """A sequence by id."""

    def sequences(self) -> list[SequenceRecord]:
        """Every sequence, by id."""

    def create_sequence(self, sequence_id: str, at: datetime) -> None:
        """A new sequence, as a draft."""

    def set_sequence_status(
        self, sequence_id: str, status: str, at: datetime, paused_at: datetime | None
    ) -> None:
        """Set a sequence's status (draft, active, paused, archived) and when it was paused."""

    def version(self, sequence_id: str, number: int | None = None) -> VersionRecord | None:
        """A version by number, or the newest when number is None."""

    def versions(self, sequence_id: str) -> list[VersionRecord]:
        """Every version of a sequence, oldest first."""

    def add_version(self, record: VersionRecord) -> None:
        """Store a published version."""

    def has_daily_caps(self) -> bool:
        """Whether an active sequence's version caps its sends per day."""

    def add_attachment(self, sha256: str, name: str, content: bytes) -> None:
        """Keep an attachment's bytes, once per content, for the versions that send it."""

    def attachment(self, sha256: str) -> bytes | None:
        """An attachment's bytes by their SHA-256."""


# ---- Contacts.


class Contacts(Protocol):
    def contact(self, key: str) -> ContactRecord | None:
        """A contact by key."""

    def contacts(self, *, limit: int | None = None, offset: int = 0) -> list[ContactRecord]:
        """Contacts by key, a page at a time."""

    def contacts_by_key(self, keys: Sequence[str]) -> dict[str, ContactRecord]:
        """The contacts of these keys (unknown keys are left out)."""

    def existing_contact_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these keys are contacts."""

    def count_contacts(self) -> int:
        """How many contacts there are."""

    def upsert_contacts(
        self, rows: Iterable[ContactRow], at: datetime, *, new_keys: list[str] | None = None
    ) -> Upserted:
        """Insert new contacts; for known keys, set the given fields and merge attributes."""


# ---- Enrollments: putting contacts on a sequence, and finding enrollments again.


class Enrollments(Protocol):
    def enrollment(self, enrollment_id: int) -> EnrollmentRecord | None:
        """An enrollment by id."""

    def live_enrollment(self, sequence: str, contact: str) -> EnrollmentRecord | None:
        """A contact's live enrollment in a sequence (states.LIVE_STATES), if any."""

    def enrollments(
        self,
        *,
        sequence: str | None = None,
        contact: str | None = None,
        state: str | None = None,
        live: bool = False,
        limit: int | None = None,
    ) -> list[EnrollmentRecord]:
        """Enrollments by id, of a sequence, a contact, a state, or only live ones."""

    def enrollments_with_contacts(
        self,
        *,
        states: Sequence[str],
        sequence: str | None = None,
        due_before: datetime | None = None,
    ) -> Iterator[tuple[EnrollmentRecord, ContactRecord]]:
        """Enrollments in these states with their contacts, streamed in id order (flat memory)."""

    def live_contacts(self, sequence: str, keys: Sequence[str]) -> set[str]:
        """Which of these contacts already have a live enrollment in the sequence."""

    def live_ids(self, sequence: str, keys: Sequence[str]) -> dict[str, int]:
        """The live enrollment id of each of these contacts that has one in the sequence."""

    def last_ended(self, sequence: str, keys: Sequence[str]) -> dict[str, str]:
        """For contacts that went through the sequence before: the state their last one ended in."""

    def live_elsewhere(self, sequence: str, keys: Sequence[str]) -> list[LiveElsewhere]:
        """The live enrollments of these contacts in other sequences."""

    def insert_enrollments(
        self,
        sequence: str,
        version: int,
        contacts: Sequence[str],
        *,
        first_due: Callable[[str | None], datetime | None],
        skip: Collection[str] = (),
        vars_json: str | None = None,
        at: datetime,
    ) -> set[str]:
        """Enroll these contacts (distinct keys) as active on step 0, anchored at `at`;
        `first_due(zone)`: the first step's due time for a contact's time zone."""

    def state_counts(self, sequence: str) -> dict[str, int]:
        """Enrollments of a sequence per state."""

    def enrolled_count(
        self, sequence: str, since: datetime | None = None, until: datetime | None = None
    ) -> int:
        """Enrollments of a sequence, or those enrolled at or after `since` (and before `until`)."""


# ---- Transitions: which enrollments are due, and the writes that move them through states.


class Transitions(Protocol):
    def due(
        self,
        now: datetime,
        limit: int,
        shard: tuple[int, int] | None = None,
        skip: Collection[int] = (),
    ) -> list[DueRow]:
        """Active enrollments of active sequences due at or before now, oldest first."""

    def count_due(self, now: datetime) -> int:
        """How many active enrollments of active sequences are due at or before now."""

    def paused_until(self, now: datetime) -> list[EnrollmentRecord]:
        """Paused enrollments whose pause ends by itself at or before now (out of office)."""

    def has_work(self, now: datetime) -> bool:
        """Anything for a tick to do: a step due, a pause ending, a message to (re)send."""

    def enrollment_positions(self, ids: Sequence[int]) -> dict[int, EnrollmentPosition]:
        """Where each of these enrollments stands (paused: sequence not active)."""

    def enrollment_states(self, ids: Sequence[int]) -> dict[int, str]:
        """The current state of each of these enrollments."""

    def apply(self, transitions: Sequence[Transition]) -> None:
        """Write new states and their history rows."""

    def advance(self, transitions: Sequence[Transition]) -> None:
        """`apply` for enrollments the tick found active; one no longer active is left alone."""

    def set_paused(
        self,
        enrollment_id: int,
        *,
        at: datetime,
        reason: str,
        resume_at: datetime | None = None,
    ) -> None:
        """Pause an enrollment, with why, until resume_at (None: until a person resumes it)."""

    def set_due(self, updates: Iterable[NewDue], *, at: datetime) -> None:
        """Move enrollments' next due times, e.g. after a pause."""

    def set_version(self, enrollment_id: int, version: int, step: int, at: datetime) -> None:
        """Move an enrollment to another version of its sequence, at this step."""


# ---- History: the record of every transition.


class History(Protocol):
    def add_history(self, rows: Iterable[NewHistory]) -> None:
        """Write history rows, in their order."""

    def history(
        self,
        *,
        contact: str | None = None,
        sequence: str | None = None,
        enrollment: int | None = None,
    ) -> list[HistoryRecord]:
        """History rows, oldest first, of a contact, a sequence or an enrollment."""

    def last_history_at(self, kinds: Sequence[str]) -> datetime | None:
        """When the newest history row of these kinds was written (a tick's work), or None."""

    def step_counts(
        self, sequence: str, since: datetime | None = None, until: datetime | None = None
    ) -> dict[StepKind, int]:
        """History kinds counted per step: {(step id, kind): n}, in the period."""

    def step_reached(
        self,
        sequence: str,
        kinds: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, int]:
        """Per step: distinct enrollments with a history row of these kinds for it."""


# ---- Manual actions: calls and tasks for people.


class Actions(Protocol):
    def action(self, action_id: int) -> ActionRecord | None:
        """An action by id."""

    def actions(
        self,
        *,
        status: str | None = "open",
        sequence: str | None = None,
        due_before: datetime | None = None,
        due_after: datetime | None = None,
        enrollment: int | None = None,
    ) -> list[ActionRecord]:
        """Actions (open ones unless told), soonest due first."""

    def open_action_days(
        self, *, now: datetime, until: datetime, sequence: str | None = None
    ) -> list[ActionDay]:
        """Open actions due before `until` counted per sequence, version, step and UTC date."""

    def add_actions(self, actions: Sequence[NewAction]) -> None:
        """Store new open actions."""

    def close_action(self, action_id: int, status: str, at: datetime, by: str | None) -> None:
        """Close an action as done or skipped, when and by whom."""

    def cancel_actions(self, enrollment: int, at: datetime) -> None:
        """An enrollment's open actions will not be done: it ended."""


# ---- Messages: rendered, approved, sent.


class Messages(Protocol):
    def message(self, message_id: int) -> MessageRecord | None:
        """A message by id."""

    def message_extra(self, message_id: int) -> dict[str, Any]:
        """A message's extra JSON (html body, WhatsApp template, ...); {} when none."""

    def messages(
        self,
        *,
        status: str | None = None,
        sequence: str | None = None,
        enrollment: int | None = None,
        limit: int | None = None,
    ) -> list[MessageRecord]:
        """Messages by id, in a status, of a sequence or of an enrollment."""

    def deferred_messages(self, enrollment: int) -> list[MessageRecord]:
        """An enrollment's queued messages held until a later attempt (`next_attempt_at`)."""

    def add_messages(self, messages: Sequence[NewMessage]) -> dict[str, int]:
        """Store messages; one already stored under the same key is left as it is."""

    def deliverable(
        self,
        limit: int | None,
        *,
        now: datetime | None = None,
        status: str = "queued",
        after: int = 0,
    ) -> list[Deliverable]:
        """Messages in `status` (whose retry time has come) with their enrollment's facts."""

    def deliverables(self, ids: Collection[int]) -> list[Deliverable]:
        """These messages, whatever their status, with their enrollment's facts (in order)."""

    def postpone(self, updates: Iterable[Postponement]) -> None:
        """Messages back to queued until their next attempt, with why."""

    def requeue(self, ids: Iterable[int]) -> None:
        """Failed messages get another go, now (and a new period of retries)."""

    def requeue_in_flight(self, ids: Iterable[int], note: str) -> None:
        """Messages a dead tick left `sending`, outcome unknown: queued to go again now."""

    def add_resent(self, counts: Iterable[Resent]) -> None:
        """Sends whose outcome was unknown, so the message went out again."""

    def mark_failing(self, since: Iterable[FailingSince]) -> None:
        """The first temporary failure of a message, kept until it is sent."""

    def failing_channels(self) -> list[FailingChannel]:
        """Per message type: the messages that wait after a temporary failure."""

    def sent_since(
        self, since: datetime, *, sequence: str | None = None, sender: str | None = None
    ) -> SentCount:
        """How many were sent after `since` (by a sequence, or from a mailbox), and the first."""

    def set_message_status(
        self,
        ids: Iterable[int],
        status: str,
        *,
        error: str | None = None,
        sent_at: datetime | None = None,
        attempt: bool = False,
    ) -> None:
        """Set these messages' status and error (and when sent; counting an attempt)."""

    def mark_sent(self, sent: Iterable[Sent]) -> None:
        """Messages sent, when, under the provider's id."""

    def edit_message(self, message_id: int, subject: str | None, body: str | None) -> None:
        """Change a waiting message's subject or body (None: unchanged)."""

    def rewrite_message(self, message_id: int, body: str | None, extra_json: str | None) -> None:
        """A message's body and extra replaced by what is really sent (a WhatsApp template)."""

    def message_counts(self, sequence: str) -> dict[StepStatus, int]:
        """Messages of a sequence per (step, status)."""

    def count_released(self, sequence: str, step: str, since: datetime) -> int:
        """Messages of a step let out (queued, sending or sent) since a time."""

    def cancel_messages(self, enrollment: int) -> None:
        """Messages not sent yet will not be: the enrollment ended."""

    def last_sent_message(self, contact: str, sequence: str | None = None) -> MessageRecord | None:
        """The newest message sent to a contact (in a sequence): what a reply answers."""

    def approve_pending(self, at: datetime, by: str | None, sequence: str | None = None) -> int:
        """Release every message waiting for approval (of a sequence), but of paused ones."""

    def finished_keys(self, keys: Sequence[str]) -> set[str]:
        """Of these idempotency keys, those whose message is done with (sent, failed, ...)."""


# ---- Events: opens, clicks, replies, bounces, from webhooks, files or mailboxes.


class Events(Protocol):
    def add_event(self, event: NewEvent) -> int | None:
        """Store an event; None when one with the same event id is already stored."""

    def events(
        self,
        *,
        contact: str | None = None,
        types: Sequence[str] = (),
        since: datetime | None = None,
        sequence: str | None = None,
    ) -> list[EventRecord]:
        """Events, oldest first, of a contact, of these types, since a time, of a sequence."""

    def last_inbound_on(
        self, contacts: Sequence[str], channel: str, until: datetime
    ) -> dict[str, datetime]:
        """Each contact's newest inbound message on `channel` at or before `until`."""

    def event_contacts(
        self,
        sequence: str,
        types: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[StepEvent, int]:
        """Distinct contacts per (step, type) with such an event at or after `since`."""


# ---- The suppression list: who is never contacted.


class Suppressions(Protocol):
    def suppress(self, rows: Iterable[SuppressionRow]) -> int:
        """Add entries (an existing one keeps its first reason); returns how many."""

    def unsuppress(
        self, value: str, *, at: datetime, by: str | None, reason: str | None
    ) -> SuppressionRow | None:
        """Lift an entry (written to the history with who and why); None when not listed."""

    def suppressions(self) -> list[SuppressionRow]:
        """Every entry, oldest first."""

    def suppression_history(self, value: str | None = None) -> list[SuppressionChange]:
        """Every entry added or lifted, oldest first (of one value, when given)."""

    def suppressed(self, values: Sequence[str]) -> dict[str, str]:
        """Which of these values (keys, addresses, domains) are suppressed, with the reason."""

    def has_suppressions(self) -> bool:
        """Whether the list has any entry."""


# ---- Conditions of automatic enrollment: who met them when last checked.


class Conditions(Protocol):
    def conditions_held(self, sequence: str, condition: str, contacts: Collection[str]) -> set[str]:
        """Of these contacts, those for whom `condition` held when it was last checked."""

    def record_conditions(
        self, sequence: str, condition: str, held: Collection[str], unheld: Collection[str]
    ) -> None:
        """Remember who meets `condition` now (`held`) and who no longer does (`unheld`)."""


# ---- Leases (one tick at a time) and marks (how far a job has read).


class Leases(Protocol):
    """How ticks share the database: the store's strategy. SQLite's runs one tick at a time
    under a lease (`exclusive_runs`); PostgreSQL's lets any number of workers claim work."""

    exclusive_runs: bool

    def start_run(
        self, holder: str, now: datetime, expires_at: datetime, *, capped: bool = False
    ) -> str | None:
        """Begin a tick's work as `holder`: None, or who holds the database (it is busy).
        `capped`: mailboxes have daily caps (seqctl.yaml's; the store knows the sequences')."""

    def renew_run(self, holder: str, expires_at: datetime) -> bool:
        """Still `holder`'s run: extended; False when another took over."""

    def end_run(self, holder: str) -> None:
        """The run is over: what it held is free."""

    def only_one(self, name: str) -> AbstractContextManager[bool]:
        """Whether this run is the one to do `name` now (once per tick, however many workers)."""

    def mark(self, name: str) -> str | None:
        """A named mark's value, None when never set."""

    def set_mark(self, name: str, value: str) -> None:
        """Set a named mark."""

    def news_since(
        self, after_id: int, until_id: int, *, kinds: Sequence[str], exits: Mapping[str, str]
    ) -> list[News]:
        """History rows after a history id, up to another, that owners hear about (owners'
        digests)."""

    def last_history_id(self) -> int | None:
        """The newest history row's id, 0 when there is none; every row with a smaller id is
        written by then (none still in another process's open transaction): a digest that
        reads up to it never misses a row that commits later. None: not now (the writers of
        history hold it too long); ask again at the next tick."""


# ---- Mailboxes: how far `inbox sync` read each folder, and the mail seqctl sent.


class Mailboxes(Protocol):
    def inbox_folder(self, inbox: str, folder: str) -> FolderState | None:
        """How far a folder of an inbox was read."""

    def inbox_folders(self) -> list[FolderState]:
        """Every folder read, of every inbox."""

    def save_inbox_folder(self, state: FolderState) -> None:
        """Write a folder's state; last_uid never goes back under the same uidvalidity."""

    def inbox_failed(self, inbox: str, folders: Sequence[str], error: str, at: datetime) -> None:
        """Record that reading these folders failed (a folder never read gets a row saying so)."""

    def email_messages_after(self, after_id: int, limit: int) -> list[EmailMessageRef]:
        """Email messages after an id, in order."""

    def add_sent_mail(self, rows: Iterable[SentMail]) -> None:
        """The Message-ID local parts of mail seqctl sent."""

    def sent_mail(self, locals_: Sequence[str]) -> dict[str, int]:
        """The messages seqctl sent under these Message-ID local parts."""

    def message_by_key(self, idempotency_key: str) -> MessageRecord | None:
        """A message by idempotency key."""

    def contacts_by_email(self, address: str) -> list[ContactRecord]:
        """Contacts with this email address, whatever its case."""

    def earliest_live_enrollment(self) -> datetime | None:
        """When the oldest enrollment still running began: older mail answers none of them."""

    def mailbox_event_counts(self, sequence: str | None = None) -> dict[str, int]:
        """Events read from a mailbox, by type (of a sequence)."""


# ---- Outcomes: what reports count, in the store, whatever the number of rows.


class Outcomes(Protocol):
    def variant_counts(
        self, sequence: str, types: Sequence[str], since: datetime | None, until: datetime | None
    ) -> dict[StepVariant, dict[str, int]]:
        """Per (step, variant): `sent` messages, and contacts with each event type on them."""

    def event_totals(
        self, sequence: str, types: Sequence[str], since: datetime | None, until: datetime | None
    ) -> dict[str, int]:
        """Distinct contacts per event type attributed to the sequence in the period."""

    def contacted(self, sequence: str, since: datetime | None, until: datetime | None) -> int:
        """Enrollments sent at least one message in the period."""

    def waiting_approval(self, sequence: str) -> int:
        """Messages of the sequence waiting for a person's OK now."""

    def open_actions_due(
        self, sequence: str, now: datetime, overdue_before: datetime
    ) -> ActionsDue:
        """Open actions due at or before `now`, and of those, due before `overdue_before`."""

    def sent_per_hour(
        self,
        sequences: Sequence[str],
        since: datetime | None,
        until: datetime | None,
        width: int = 13,
    ) -> list[SlotCount]:
        """Messages sent per UTC hour over these sequences (width 16: per minute)."""

    def events_per_hour(
        self,
        sequences: Sequence[str],
        kind: str,
        since: datetime | None,
        until: datetime | None,
        width: int = 13,
    ) -> list[SlotCount]:
        """Contacts with an event of this kind per UTC hour (or minute) over these sequences."""

    def message_failures(
        self, sequence: str, since: datetime | None, until: datetime | None
    ) -> list[MessageFailure]:
        """Failed messages per step and error, with one contact, of messages of the period."""

    def enrollment_failures(self, sequence: str) -> list[EnrollmentFailure]:
        """Failed enrollments per reason, with one contact, as they stand now."""


class Store(
    Database,
    Sequences,
    Contacts,
    Enrollments,
    Transitions,
    History,
    Actions,
    Messages,
    Events,
    Suppressions,
    Conditions,
    Leases,
    Mailboxes,
    Outcomes,
    Protocol,
):
    """The database behind seqctl, whichever it is: every operation the layers above use."""
