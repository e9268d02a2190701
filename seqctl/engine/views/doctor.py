"""`seqctl doctor`: why a contact is (not) getting a sequence's next step, checked in order.

Each check answers one question people ask by hand (is the sequence active? is the contact
enrolled? did they reply? is a message waiting for an OK?) from the data. The first failing
check is the answer; after a decisive one (no sequence, no contact, not enrolled, ended) the
rest cannot be asked and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from seqctl.durations import Unit, Wait
from seqctl.engine.incoming import suppression
from seqctl.engine.incoming.engagement import WHATSAPP_WINDOW, whatsapp_since, window_open
from seqctl.engine.incoming.events import describe
from seqctl.engine.outbox import whatsapp
from seqctl.engine.run.runtime import RunnableVersion, Versions
from seqctl.engine.sequences.catalog import visible
from seqctl.engine.sequences.visibility import Viewer
from seqctl.engine.views import foresight
from seqctl.schedule import Calendar, Deferral, add_wait, open_at, why_deferred
from seqctl.store import ContactRecord, Store
from seqctl.store.records import EnrollmentRecord
from seqctl.store.states import ENDED_STATES, RUNNING_STATES, EnrollmentState, MessageStatus
from seqctl.timeutil import format_instant

# Cron runs the tick every minute: a step due longer ago than this was missed by it.
TICK_GRACE = timedelta(minutes=5)
# History kinds only a tick writes: the newest one tells when a tick last did something.
TICK_KINDS = ("sent", "action", "approval", "failed", "completed", "skipped", "branched")
STOPPING_EVENTS = {
    "reply": "replied",
    "bounce": "bounced",
    "unsubscribe": "unsubscribed",
    "out_of_office": "out of office",
}


@dataclass(frozen=True)
class Check:
    """One question about a contact in a sequence, and its answer."""

    name: str
    ok: bool
    detail: str


def diagnose(
    store: Store, sequence: str, contact: str, *, now: datetime, viewer: Viewer | None = None
) -> list[Check]:
    """Checks in order, from "is the sequence published" to "is the next step due".

    A sequence the viewer may not see gets the answer of one that does not exist."""
    checks: list[Check] = []
    record = store.sequence(sequence) if visible(store, sequence, viewer) else None
    if record is None or record.latest_version is None:
        what = "no sequence" if record is None else "nothing published for"
        checks.append(Check("published", False, f"{what} '{sequence}': seqctl publish playbooks/"))
        return checks
    published = store.version(sequence)
    assert published is not None
    checks.append(
        Check(
            "published",
            True,
            f"version {published.number} published {format_instant(published.published_at)}",
        )
    )
    checks.append(_active(record.status, record.paused_at, sequence))

    person = store.contact(contact)
    if person is None:
        checks.append(
            Check("contact", False, f"no contact '{contact}': seqctl contacts import FILE")
        )
        return checks
    checks.append(Check("contact", True, _contact_detail(person)))
    newest = Versions(store).get(sequence)
    holidays = newest.holidays_note(newest.place_of(person.fields()))
    if holidays is not None:
        checks.append(Check("holidays", True, holidays))

    enrollment = _enrollment(store, sequence, contact)
    if enrollment is None:
        checks.append(
            Check(
                "enrolled",
                False,
                f"'{contact}' is not enrolled: seqctl enroll {sequence} --contact {contact}",
            )
        )
        return checks
    version = Versions(store).get(sequence, enrollment.version)
    checks.append(_enrolled(enrollment, version, published.number))
    checks.append(_suppression(store, person))
    checks.append(_events(store, sequence, enrollment))
    mailbox = _mailbox(store)
    if mailbox is not None:
        checks.append(mailbox)
    if enrollment.state in ENDED_STATES:
        return checks

    checks.append(_approval(store, enrollment))
    checks.append(_action(store, enrollment))
    checks.append(_failed(enrollment, version, sequence, contact))
    checks.append(_deferred(store, enrollment, now))
    window = _whatsapp(store, enrollment, now)
    if window is not None:
        checks.append(window)
    if enrollment.state == EnrollmentState.ACTIVE and enrollment.next_due_at is not None:
        # What the tick will meet when the step falls due: no address, a missing value, ...
        found = foresight.predict(store, enrollment, version, person, now)
        checks.extend(Check(name, ok, detail) for name, ok, detail in found)
    if enrollment.state == EnrollmentState.ACTIVE:
        checks.append(_schedule(store, enrollment, version, person, now))
    return checks


def _active(status: str, paused_at: datetime | None, sequence: str) -> Check:
    if status == "active":
        return Check("active", True, "the sequence is active")
    if status == "paused":
        since = f" since {format_instant(paused_at)}" if paused_at else ""
        return Check("active", False, f"the sequence is paused{since}: seqctl resume {sequence}")
    return Check(
        "active",
        False,
        f"the sequence is a {status}: nothing runs until seqctl activate {sequence}",
    )


def _contact_detail(person: ContactRecord) -> str:
    routes = [v for v in (person.email, person.phone) if v]
    zone = f", time zone {person.timezone}" if person.timezone else ""
    return f"{person.key} ({', '.join(routes) or 'no email or phone'}{zone})"


def _enrollment(store: Store, sequence: str, contact: str) -> EnrollmentRecord | None:
    """The live enrollment, else the newest one that ended."""
    live = store.live_enrollment(sequence, contact)
    if live is not None:
        return live
    ended = store.enrollments(sequence=sequence, contact=contact)
    return ended[-1] if ended else None


def _step_id(version: RunnableVersion, index: int) -> str:
    steps = version.steps
    return steps[index].id if index < len(steps) else "the end"


def _enrolled(e: EnrollmentRecord, version: RunnableVersion, newest: int) -> Check:
    step = _step_id(version, e.step)
    where = f"version {e.version}, step '{step}'"
    if e.state == EnrollmentState.COMPLETED:
        return Check(
            "enrolled",
            False,
            f"completed on {format_instant(e.updated_at)} ({where}): no steps left",
        )
    if e.state == EnrollmentState.EXITED:
        return Check(
            "enrolled",
            False,
            f"exited: {e.reason or 'removed'} on {format_instant(e.updated_at)} ({where})",
        )
    if e.state == EnrollmentState.PAUSED:
        return Check(
            "enrolled",
            False,
            f"paused: {e.reason or 'by a person'}"
            f" since {format_instant(e.paused_at or e.updated_at)} ({where}):"
            f" seqctl resume {e.sequence} --contact {e.contact}",
        )
    newer = (
        f"; version {newest} is newer: seqctl migrate {e.sequence} --to {newest}"
        if newest > e.version
        else ""
    )
    return Check(
        "enrolled", True, f"{e.state} ({where}), enrolled {format_instant(e.enrolled_at)}{newer}"
    )


def _suppression(store: Store, person: ContactRecord) -> Check:
    needs = suppression.Needs("email", "phone")  # every address, as the list compares them
    found = suppression.Checker(store).contacts([person], needs).get(person.key)
    if found is not None and found.value == person.key:
        return Check("suppression", False, f"unsubscribed: {found.reason}")
    if found is not None:
        return Check("suppression", False, str(found))
    return Check("suppression", True, "not on the suppression list")


def _events(store: Store, sequence: str, e: EnrollmentRecord) -> Check:
    found = store.events(
        contact=e.contact,
        types=tuple(STOPPING_EVENTS),
        since=e.enrolled_at,
        sequence=sequence,
    )
    if not found:
        return Check("events", True, "no reply, bounce or unsubscribe since enrolled")
    latest = found[-1]
    what = f"{STOPPING_EVENTS[latest.type]} at {format_instant(latest.at)}"
    data = latest.data
    if latest.type == "out_of_office" and data.get("return_date"):
        what += f", back {data['return_date']}"
    if "mailbox" in data:  # read from a sender's mailbox: where, how matched, and why
        what += f" ({describe(data)})"
    if e.state in RUNNING_STATES:
        return Check("events", True, f"{what}; the playbook carries on after a {latest.type}")
    return Check("events", False, what)


def _mailbox(store: Store) -> Check | None:
    """When the senders' mailboxes were last read (`inbox sync`); None when they never were."""
    folders = store.inbox_folders()
    if not folders:
        return None
    failed = [f for f in folders if f.error]
    if failed:
        f = failed[0]
        return Check(
            "mailbox",
            False,
            f"reading {f.inbox}/{f.folder} failed at {format_instant(f.synced_at)}: {f.error};"
            " replies there are not seen until it works (seqctl inbox sync)",
        )
    last = min(f.synced_at for f in folders)
    names = ", ".join(f"{f.inbox}/{f.folder}" for f in folders)
    return Check("mailbox", True, f"read at {format_instant(last)}: {names}")


def _approval(store: Store, e: EnrollmentRecord) -> Check:
    pending = store.messages(enrollment=e.id, status="pending_approval")
    if not pending:
        return Check("approval", True, "no message waiting for approval")
    m = pending[0]
    return Check(
        "approval",
        False,
        f"message #{m.id} (step '{m.step}', {m.channel} to {m.to_address or '-'}) waits for"
        f" approval since {format_instant(m.created_at)}: seqctl approve {m.id}",
    )


def _action(store: Store, e: EnrollmentRecord) -> Check:
    open_actions = store.actions(status="open", enrollment=e.id)
    if not open_actions:
        return Check("action", True, "no task waiting for a person")
    a = open_actions[0]
    return Check(
        "action",
        False,
        f"action #{a.id} ({a.type} for step '{a.step}', due {format_instant(a.due_at)})"
        f" waits for a person: seqctl done {a.id}",
    )


def _failed(e: EnrollmentRecord, version: RunnableVersion, sequence: str, contact: str) -> Check:
    if e.state != EnrollmentState.FAILED:
        return Check("failed", True, "no failed step")
    step = _step_id(version, e.step)
    reason = (e.reason or "unknown reason").removeprefix(f"step '{step}': ")
    return Check(
        "failed",
        False,
        f"step '{step}' failed: {reason}; fix it, then seqctl retry {sequence} --contact {contact}",
    )


def _deferred(store: Store, e: EnrollmentRecord, now: datetime) -> Check:
    held = [
        m
        for m in store.deferred_messages(e.id)
        if m.next_attempt_at is not None and m.next_attempt_at > now
    ]
    if not held:
        return Check("deferred", True, "no message held back by a daily limit")
    m = held[0]
    return Check(
        "deferred",
        False,
        f"message #{m.id} (step '{m.step}'): {m.error or 'deferred'};"
        f" next attempt at {format_instant(m.next_attempt_at)}",
    )


def _whatsapp(store: Store, e: EnrollmentRecord, now: datetime) -> Check | None:
    """A free-text WhatsApp message that waits (for an OK, a daily cap, a retry): what the tick
    will send when it leaves, judged as the tick judges it then. None when there is none."""
    waiting = [
        m
        for m in store.messages(enrollment=e.id)
        if m.status in (MessageStatus.PENDING_APPROVAL, MessageStatus.QUEUED)
        and whatsapp.free_text(m.channel, store.message_extra(m.id))
    ]
    if not waiting:
        return None
    m = waiting[0]
    versions = Versions(store)
    later = m.next_attempt_at if m.status == MessageStatus.QUEUED else None
    leaves = max(later, now) if later is not None else now
    when = (
        "approved now"
        if m.status == MessageStatus.PENDING_APPROVAL
        else f"at its next attempt at {format_instant(m.next_attempt_at)}"
        if later is not None and later > now
        else "at the next tick"
    )
    last = whatsapp_since(store, [e.contact], now).get(e.contact)
    found = whatsapp.verdict(store, versions, m, leaves, last)
    wrote = whatsapp.last_wrote(last)
    what = f"message #{m.id} (step '{m.step}')"
    if found.open:
        assert last is not None
        closes = last + WHATSAPP_WINDOW
        after = whatsapp.verdict(store, versions, m, closes, last)
        then = (
            f"goes as template '{after.template.extra['template']['name']}'"
            if after.template is not None
            else f"fails ({after.cannot})"
        )
        return Check(
            "whatsapp",
            True,
            f"{what} is free text, inside WhatsApp's 24-hour window until"
            f" {format_instant(closes)} ({wrote}); sent after that, it {then}",
        )
    state = (
        "has closed"
        if not window_open(last, now) or last is None
        else f"closes at {format_instant(last + WHATSAPP_WINDOW)}"
    )
    if found.template is not None:
        name = found.template.extra["template"]["name"]
        return Check(
            "whatsapp",
            True,
            f"{what} is free text, but WhatsApp's 24-hour window {state} ({wrote}): {when}, it"
            f" goes as template '{name}' instead",
        )
    return Check(
        "whatsapp",
        False,
        f"{what}, {when}, fails: {found.failure}; a message from the contact on WhatsApp opens"
        " the window again",
    )


def _schedule(
    store: Store,
    e: EnrollmentRecord,
    version: RunnableVersion,
    person: ContactRecord,
    now: datetime,
) -> Check:
    """When the next step is due and why then; or, when it is due, whether a tick will come."""
    step = _step_id(version, e.step)
    due = e.next_due_at
    if due is None:
        queued = store.messages(enrollment=e.id, status="queued")
        if queued:
            return Check(
                "due now", True, f"message #{queued[0].id} is queued: the next tick sends it"
            )
        return Check("next step", True, f"step '{step}' has nothing scheduled")
    if due > now:
        held, why = _why_then(e, version, person, due, now)
        return Check("next step", not held, f"step '{step}' is due at {format_instant(due)}: {why}")
    last = store.last_history_at(TICK_KINDS)
    last_tick = (
        f"the last tick that did something ran at {format_instant(last)}"
        if last
        else "no tick has run"
    )
    if now - due > TICK_GRACE:
        return Check(
            "due now",
            False,
            f"step '{step}' was due at {format_instant(due)} and has not been sent:"
            f" is cron running seqctl tick? ({last_tick})",
        )
    return Check(
        "due now",
        True,
        f"step '{step}' is due since {format_instant(due)}: the next tick sends it ({last_tick})",
    )


def _why_then(
    e: EnrollmentRecord,
    version: RunnableVersion,
    person: ContactRecord,
    due: datetime,
    now: datetime,
) -> tuple[bool, str]:
    """Why the step is due at `due`; held is True when the wait is over but a window holds it."""
    step = version.steps[e.step]
    cal = version.calendar(person.timezone, version.place_of(person.fields()))
    anchor = e.anchor_at
    if step.day is not None:
        enrolled = e.enrolled_at
        raw = add_wait(enrolled, Wait(step.day - 1, Unit.DAYS), cal)
        base = f"day {step.day} from the enrollment at {format_instant(e.enrolled_at)}"
    else:
        raw = anchor
        for w in step.waits:
            raw = add_wait(raw, w, cal)
        waits = " + ".join(str(w) for w in step.waits)
        base = f"the wait of {waits} from {format_instant(e.anchor_at)}" if waits else ""
    if open_at(raw, cal) != due:
        # The countdown froze during a pause, or a migration moved the step since.
        return False, f"{base or 'no wait'}, moved later by a pause"
    deferral = why_deferred(raw, cal)
    if deferral is None:
        return False, base or f"no wait after {format_instant(e.anchor_at)}"
    ready = f"{base} ended at {format_instant(raw)}" if base else f"ready at {format_instant(raw)}"
    moved = _moved_by(deferral, raw, cal)
    skipped = foresight.closed_days_skipped(raw, due, cal) if deferral.reason == "window" else []
    if skipped:
        moved += f", then past the closed day{'s' if len(skipped) > 1 else ''} {', '.join(skipped)}"
    return raw <= now, f"{ready}, {moved}"


def _moved_by(deferral: Deferral, raw: datetime, cal: Calendar) -> str:
    """Which part of the calendar moved the time, in the playbook's words."""
    window, zone = cal.window, cal.zone.key
    if deferral.reason == "window" and window is not None:
        local = raw.astimezone(cal.zone)
        if local.weekday() not in window.days:
            return f"moved by the send window {window} ({zone}): {local:%A} is not a sending day"
        return f"moved by the send window {window.hours} ({zone}): {local:%H:%M} is outside it"
    if deferral.reason in ("holiday", "closed day"):
        return f"moved by a {deferral.reason}: {deferral.detail}"
    return deferral.detail
