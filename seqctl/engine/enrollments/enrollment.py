"""Putting contacts on a sequence, taking them off, pausing and resuming them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from seqctl.engine import contacts
from seqctl.engine.incoming import suppression
from seqctl.engine.run.advance import exit_enrollment
from seqctl.engine.run.bulk import collector_paused
from seqctl.engine.run.runtime import RunnableVersion, Versions
from seqctl.engine.sequences.archive import refuse_if_archived
from seqctl.engine.sequences.catalog import require_visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.errors import NotFound, SeqctlError
from seqctl.schedule import open_at
from seqctl.store import Store
from seqctl.store.records import (
    ContactRecord,
    ContactRow,
    EnrollmentRecord,
    NewDue,
    NewHistory,
    Transition,
)
from seqctl.store.states import EnrollmentState

BATCH_SIZE = 50_000


@dataclass(frozen=True)
class Refusal:
    contact: str
    reason: str


@dataclass
class EnrollReport:
    enrolled: int = 0
    already: int = 0
    refused: list[Refusal] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "enrolled": self.enrolled,
            "already": self.already,
            "refused": [{"contact": r.contact, "reason": r.reason} for r in self.refused],
        }


def enroll(
    store: Store,
    sequence: str,
    contacts: Iterable[str],
    *,
    now: datetime,
    variables: Mapping[str, Any] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    viewer: Viewer | None = None,
) -> EnrollReport:
    """Enroll contacts (by key) in the newest version. Idempotent: live ones count as already."""
    require_visible(store, sequence, viewer)
    enroller = Enroller(store, sequence, now=now, variables=variables)
    report = EnrollReport()
    enroller.enroll_all(contacts, report, batch_size=batch_size, progress=progress)
    return report


class Enroller:
    """Enrolls contacts in the newest version of one sequence, batch by batch.

    What does not depend on the contact is worked out once for the whole run: the version, the
    policy, and the first step's due time for each time zone the contacts live in.
    """

    def __init__(
        self,
        store: Store,
        sequence: str,
        *,
        now: datetime,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        record = store.sequence(sequence)
        if record is None:
            raise NotFound(f"no sequence '{sequence}' (publish it first: seqctl publish)")
        refuse_if_archived(record)
        versions = Versions(store)
        self.store = store
        self.sequence = sequence
        self.version = versions.get(sequence)
        self.policy = Policy(store, versions, self.version)
        self.now = now
        self.vars_json = json.dumps(dict(variables), sort_keys=True) if variables else None
        self._first_due: dict[str | None, datetime | None] = {}

    def first_due(self, zone: str | None) -> datetime | None:
        """When the first step is due for a contact in this time zone (computed once a zone)."""
        try:
            return self._first_due[zone]
        except KeyError:
            due = self.version.due(0, anchor=self.now, enrolled_at=self.now, contact_zone=zone)
            found = self._first_due[zone] = due
            return found

    def _own_holidays(self, enrolled: set[str]) -> None:
        """Playbooks with `holidays.from_contact`: the first due time of a contact from a
        known country follows that country's holidays (the batch insert used the sequence's)."""
        version, store = self.version, self.store
        keys = sorted(enrolled)
        ids = store.live_ids(self.sequence, keys)
        moves: list[NewDue] = []
        for key, contact in store.contacts_by_key(keys).items():
            place = version.place_of(contact.fields())
            if place is None or key not in ids:
                continue
            due = version.due(
                0, anchor=self.now, enrolled_at=self.now, contact_zone=contact.timezone, place=place
            )
            if due != self.first_due(contact.timezone):  # most share the sequence's calendar
                moves.append(NewDue(next_due_at=due, enrollment=ids[key]))
        store.set_due(moves, at=self.now)

    def enroll_all(
        self,
        contacts: Iterable[str],
        report: EnrollReport,
        *,
        batch_size: int = BATCH_SIZE,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Enroll contacts read from an iterable, streamed batch by batch into report."""
        keys = iter(contacts)
        with collector_paused():
            while batch := list(dict.fromkeys(islice(keys, batch_size))):
                self.enroll_batch(batch, report)
                if progress is not None:
                    progress(len(batch))

    def enroll_batch(self, keys: list[str], report: EnrollReport) -> None:
        """One batch of distinct keys in one transaction, counted into report.

        Everyone is enrolled in one statement; only when some were not does it look up why
        (unknown, already live, refused by the policy), in the order given.
        """
        store = self.store
        with store.transaction():
            refusals = self.policy.refusals(keys)
            enrolled = store.insert_enrollments(
                self.sequence,
                self.version.number,
                keys,
                first_due=self.first_due,
                skip=refusals.keys(),
                vars_json=self.vars_json,
                at=self.now,
            )
            report.enrolled += len(enrolled)
            if self.version.contact_holidays is not None:
                self._own_holidays(enrolled)
            if len(enrolled) == len(keys):
                return
            rest = [key for key in keys if key not in enrolled]
            known = store.existing_contact_keys(rest)
            live = store.live_contacts(self.sequence, rest)
        for key in rest:
            if key not in known:
                reason = "unknown contact (import it first: seqctl contacts import)"
                report.refused.append(Refusal(key, reason))
            elif key in live or key not in refusals:
                report.already += 1
            else:
                report.refused.append(Refusal(key, refusals[key]))


class Policy:
    """Who may not be enrolled: suppressed addresses, `reenroll` and `exclusive` rules."""

    def __init__(self, store: Store, versions: Versions, version: RunnableVersion) -> None:
        self.store = store
        self.versions = versions
        self.sequence = version.sequence
        definition = version.model.definition
        self.reenroll = str(definition.get("reenroll", "always"))
        # Opt-outs follow the address: refused when an address the sequence sends to is listed.
        self.suppressions = suppression.Checker(store)
        self.needs = suppression.Needs.of(version.steps, definition)
        self.exclusive = bool(definition.get("exclusive", False))

    def refusals(self, keys: list[str]) -> dict[str, str]:
        """Reasons by contact key, for those of these contacts that must not be enrolled."""
        refused: dict[str, str] = {}
        if not keys:
            return refused
        if self.suppressions.active:
            contacts = self.store.contacts_by_key(keys)
            found = self.suppressions.contacts(
                [contacts[k] for k in keys if k in contacts], self.needs
            )
            for key, block in found.items():
                refused[key] = (
                    f"suppressed: {block.reason}"
                    if block.value == key
                    else f"suppressed: {block.value} ({block.reason})"
                )
        if self.reenroll != "always":
            for key, state in self.store.last_ended(self.sequence, keys).items():
                if self.reenroll == "never" or state == EnrollmentState.COMPLETED:
                    refused.setdefault(
                        key,
                        f"already went through this sequence ({state}; reenroll: {self.reenroll})",
                    )
        if self.exclusive:
            for key, other, number in self.store.live_elsewhere(self.sequence, keys):
                if self.versions.get(other, number).model.definition.get("exclusive"):
                    refused.setdefault(key, f"active in exclusive sequence '{other}'")
        return refused


def enroll_file(
    store: Store,
    sequence: str,
    path: str,
    *,
    now: datetime,
    variables: Mapping[str, Any] | None = None,
    extra_keys: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
    viewer: Viewer | None = None,
) -> EnrollReport:
    """Enroll from a file (or `-`): contact keys one a line, or CSV/JSONL contact rows.

    Contact rows are imported (upserted by key) first, so a file can bring new people; a row
    that cannot be imported is refused with its line number. `progress`, as for `enroll`, is
    called after each batch with the number of contacts in it.
    """
    require_visible(store, sequence, viewer)
    enroller = Enroller(store, sequence, now=now, variables=variables)
    result = EnrollReport()
    enroller.enroll_all(extra_keys, result, progress=progress)
    with contacts.open_source(path) as handle:
        # Streamed, batch by batch: memory stays flat however long the file is.
        checked = contacts.Lines(handle)
        kind, rest = contacts.sniff_keys(path, iter(checked))
        if kind is None:
            enroller.enroll_all(_keys(rest, checked, path, result), result, progress=progress)
            return result

        def enroll_batch(batch: list[ContactRow], new: set[str]) -> None:
            enroller.enroll_all([row.key for row in batch], result, progress=progress)

        imported = contacts.import_contacts(
            store,
            contacts.read_contacts(rest, name=path, kind=kind, checked=checked),
            now=now,
            after_batch=enroll_batch,
        )
    result.refused[:0] = [Refusal(f"{path}:{r.row}", r.reason) for r in imported.refused]
    return result


def _keys(
    lines: Iterable[str], checked: contacts.Lines, path: str, result: EnrollReport
) -> Iterator[str]:
    """The contact keys of a file of keys, one a line; an unusable line is refused by number."""
    for key in contacts.plain_keys(lines, checked):
        if isinstance(key, tuple):
            result.refused.append(Refusal(f"{path}:{key[0]}", key[1]))
        else:
            yield key


def live(
    store: Store, sequence: str, contact: str, viewer: Viewer | None = None
) -> EnrollmentRecord:
    """The running enrollment of a contact in a sequence the viewer may see."""
    require_visible(store, sequence, viewer)
    found = store.live_enrollment(sequence, contact)
    if found is None:
        if store.contact(contact) is None:
            raise NotFound(f"no contact '{contact}'")
        raise NotFound(f"contact '{contact}' is not enrolled in '{sequence}'")
    return found


def remove(
    store: Store,
    sequence: str,
    contact: str,
    *,
    now: datetime,
    reason: str = "removed by a person",
    viewer: Viewer | None = None,
) -> EnrollmentRecord:
    """Take a contact off a sequence: exited, open actions and unsent messages cancelled."""
    enrollment = live(store, sequence, contact, viewer)
    with store.transaction():
        exit_enrollment(store, enrollment, at=now, reason=reason, kind="exited", detail=reason)
    return enrollment


def pause(
    store: Store,
    sequence: str,
    contact: str,
    *,
    now: datetime,
    reason: str = "paused by a person",
    viewer: Viewer | None = None,
) -> EnrollmentRecord:
    """Hold one enrollment where it is; its countdown freezes until resumed."""
    enrollment = live(store, sequence, contact, viewer)
    if enrollment.state == EnrollmentState.PAUSED:
        raise SeqctlError(f"'{contact}' is already paused in '{sequence}'")
    if enrollment.state == EnrollmentState.FAILED:
        raise SeqctlError(f"'{contact}' failed in '{sequence}': {enrollment.reason}")
    with store.transaction():
        store.set_paused(enrollment.id, at=now, reason=reason)
        store.add_history(
            [NewHistory(enrollment=enrollment.id, at=now, kind="paused", step=None, detail=reason)]
        )
    return enrollment


def resume(
    store: Store, sequence: str, contact: str, *, now: datetime, viewer: Viewer | None = None
) -> EnrollmentRecord:
    """Resume one paused enrollment; its due time moves later by the time spent paused."""
    enrollment = live(store, sequence, contact, viewer)
    if enrollment.state != EnrollmentState.PAUSED:
        raise SeqctlError(f"'{contact}' is not paused in '{sequence}' (it is {enrollment.state})")
    with store.transaction():
        resume_enrollment(store, enrollment, now=now)
    return enrollment


def resume_enrollment(
    store: Store, enrollment: EnrollmentRecord, *, now: datetime, kind: str = "resumed"
) -> None:
    """Back to active (or waiting, when an action or approval is open), due time shifted."""
    contact = store.contact(enrollment.contact)
    due = _shifted_due(Versions(store), enrollment, now, contact)
    # Back to what it was before the pause, with its reason: waiting for a person or active.
    actions = store.actions(enrollment=enrollment.id)
    held = store.messages(enrollment=enrollment.id, status="pending_approval")
    waiting = (
        f"message for step '{held[0].step}' awaits approval"
        if held
        else f"action for step '{actions[0].step}'"
        if actions
        else None
    )
    store.apply(
        [
            Transition(
                enrollment.id,
                "waiting" if waiting else "active",
                enrollment.step,
                enrollment.anchor_at,
                due,
                waiting,
                now,
                kind,
                None,
                None,
            )
        ]
    )


def shift_paused_sequence(store: Store, sequence: str, since: datetime, now: datetime) -> int:
    """After a whole sequence was paused: move every active due time later by the pause."""
    versions = Versions(store)
    moves: list[NewDue] = []
    for enrollment in store.enrollments(sequence=sequence, state="active"):
        if enrollment.next_due_at is None:
            continue
        contact = store.contact(enrollment.contact)
        due = _shifted_due(versions, enrollment, now, contact, paused_since=since)
        moves.append(NewDue(next_due_at=due, enrollment=enrollment.id))
    store.set_due(moves, at=now)
    return len(moves)


def _shifted_due(
    versions: Versions,
    enrollment: EnrollmentRecord,
    now: datetime,
    contact: ContactRecord | None,
    paused_since: datetime | None = None,
) -> datetime | None:
    due = enrollment.next_due_at
    since = paused_since or enrollment.paused_at
    if due is None or since is None:
        return due
    version = versions.get(enrollment.sequence, enrollment.version)
    zone = contact.timezone if contact is not None else None
    place = version.place_of(contact.fields()) if contact is not None else None
    return open_at(due + (now - since), version.calendar(zone, place))
