"""`seqctl inbox sync`: read what is new in each inbox folder and turn it into events.

Per folder, the UIDVALIDITY and the highest UID read are kept: a sync reads only the UIDs above
it. The first sync of a folder, and one after its UIDVALIDITY changed (the server renumbered
it), read the mail since the oldest running enrollment began, and nothing older: older mail
answers none of them. Every event has an id made of the mail's Message-ID (or a digest of the
mail when it has none), so mail read twice (a renumbered folder, the same mail in two folders)
is one event. Messages are fetched a batch at a time; each batch is written in one transaction
with the folder's new position, and a stop request (SIGTERM, Ctrl-C) is honoured between two
messages, with what was read so far written.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from seqctl.engine.inbox.classify import Kind, Verdict, classify
from seqctl.engine.inbox.imap import Fetched, ImapError, ImapSession
from seqctl.engine.inbox.mail import Mail, Skip, parse_mail
from seqctl.engine.inbox.match import Matcher, Target, index_sent_mail
from seqctl.engine.inbox.report import SyncReport
from seqctl.engine.inbox.settings import InboxSettings, inbox_settings
from seqctl.engine.incoming.events import Event, record
from seqctl.engine.run.runtime import Versions
from seqctl.engine.run.stopping import StopRequest
from seqctl.errors import ConfigError, SeqctlError
from seqctl.store import Store
from seqctl.store.records import MAIL_EVENT_PREFIX, FolderState
from seqctl.timeutil import format_instant

Connect = Callable[[InboxSettings, str, str], ImapSession]


class Outcome(Enum):
    """What became of one message (the names are the folder's counters)."""

    EVENTS = "events"
    UNMATCHED = "unmatched"
    SKIPPED = "skipped"
    IGNORED = "ignored"


def sync_configured(
    store: Store,
    config: Mapping[str, Any],
    *,
    now: datetime,
    stop: StopRequest | None = None,
    environ: Mapping[str, str] = os.environ,
    connect: Connect = ImapSession,
) -> SyncReport:
    """Sync the inboxes of seqctl.yaml; a configuration error is reported, not raised."""
    try:
        inboxes = inbox_settings(config)
    except SeqctlError as exc:
        report = SyncReport(now=format_instant(now) or "", misconfigured=True)
        report.errors.append(("inboxes", exc.message))
        return report
    return sync(store, inboxes, now=now, stop=stop, environ=environ, connect=connect)


def sync(
    store: Store,
    inboxes: Sequence[InboxSettings],
    *,
    now: datetime,
    stop: StopRequest | None = None,
    environ: Mapping[str, str] = os.environ,
    connect: Connect = ImapSession,
) -> SyncReport:
    """Read every inbox's folders; an inbox that fails is reported and the others go on."""
    stop = stop or StopRequest()
    report = SyncReport(now=format_instant(now) or "")
    if inboxes:
        index_sent_mail(store)
    versions = Versions(store)
    for settings in inboxes:
        if stop() is not None:
            break
        session: ImapSession | None = None
        try:
            session = connect(settings, *settings.credentials(environ))
            matcher = Matcher(store, settings.served, versions)
            for folder in settings.folders:
                if stop() is not None:
                    break
                FolderSync(store, session, settings, folder, matcher, now, stop, report).run()
        except SeqctlError as exc:
            report.errors.append((settings.name, exc.message))
            report.misconfigured |= isinstance(exc, ConfigError)
            with store.transaction():
                store.inbox_failed(settings.name, settings.folders, exc.message, now)
        finally:
            if session is not None:
                session.close()
    report.stopped = stop()
    return report


@dataclass
class FolderSync:
    """One folder of one inbox, read from where the last sync stopped."""

    store: Store
    session: ImapSession
    settings: InboxSettings
    folder: str
    matcher: Matcher
    now: datetime
    stop: StopRequest
    report: SyncReport

    def run(self) -> None:
        info = self.session.open(self.folder, writable=self.settings.writes)
        state = self.store.inbox_folder(self.settings.name, self.folder)
        fresh = state is None or state.uidvalidity != info.uidvalidity
        summary: dict[str, Any] = {"inbox": self.settings.name, "folder": self.folder, "read": 0}
        summary["reset"] = state is not None and fresh and state.messages > 0
        if fresh:
            uids = self._since_oldest_enrollment()
            # What is in the folder now and older than that has been looked at: it is read.
            floor = info.uidnext - 1 if info.uidnext else max(uids, default=0)
            new = FolderState(self.settings.name, self.folder, info.uidvalidity, 0, self.now)
            state = (
                new if state is None else replace(state, uidvalidity=info.uidvalidity, last_uid=0)
            )
        else:
            assert state is not None
            uids = self.session.uids_after(state.last_uid)
            floor = state.last_uid
        for batch in _chunks(uids, self.settings.batch_size):
            if self.stop() is not None:
                break
            state = self._batch(state, batch, summary)
        if self.stop() is None:
            state = replace(state, last_uid=max(state.last_uid, floor))
        with self.store.transaction():
            self.store.save_inbox_folder(replace(state, synced_at=self.now, error=None))
        summary.update(uidvalidity=state.uidvalidity, last_uid=state.last_uid)
        self.report.folders.append(summary)

    def _since_oldest_enrollment(self) -> list[int]:
        oldest = self.store.earliest_live_enrollment()
        if oldest is None:
            return []
        return self.session.uids_since((oldest - timedelta(days=1)).date())

    def _batch(self, state: FolderState, uids: list[int], summary: dict[str, Any]) -> FolderState:
        """Fetch, read and record one batch; the folder's position is written with it."""
        handled: list[int] = []
        last = state.last_uid
        counts = {"messages": 0, "events": 0, "unmatched": 0, "skipped": 0}  # the new totals
        fetched = sorted(self.session.fetch(uids, self.settings.fetch_limit), key=lambda f: f.uid)
        with self.store.transaction():
            for message in fetched:
                if self.stop() is not None:
                    break
                outcome = self._message(message)
                counts["messages"] += 1
                if outcome.value in counts:
                    counts[outcome.value] += 1
                if outcome is Outcome.EVENTS:
                    handled.append(message.uid)
                last = message.uid
            else:
                last = max(last, uids[-1])  # UIDs gone between SEARCH and FETCH are passed
            state = replace(
                state,
                last_uid=last,
                synced_at=self.now,
                **{name: getattr(state, name) + n for name, n in counts.items()},
            )
            self.store.save_inbox_folder(state)
        summary["read"] += counts["messages"]
        self._after_reading(handled)
        return state

    def _message(self, fetched: Fetched) -> Outcome:
        """Read one message and record its events."""
        report = self.report
        report.read += 1
        where = f"{self.settings.name}/{self.folder} UID {fetched.uid}"
        read = _read(fetched, self.settings)
        if isinstance(read, Skip):
            report.skipped.append((where, read.reason))
            return Outcome.SKIPPED
        mail, verdict = read
        if verdict.kind is not Kind.IGNORED and self.matcher.sent_by_us(mail):
            verdict = Verdict(Kind.IGNORED, "a copy of a message seqctl sent")
        if verdict.kind is Kind.IGNORED:
            report.ignored += 1
            return Outcome.IGNORED
        at = min(mail.date or self.now, self.now)
        targets = self.matcher.targets(mail, verdict, at)
        if not targets:
            report.unmatched += 1
            return Outcome.UNMATCHED
        events = [(where, self._event(mail, fetched, verdict, target, at)) for target in targets]
        result = record(self.store, events, now=self.now, versions=self.matcher.versions)
        report.events[verdict.kind.value] += result.recorded
        report.duplicates += result.duplicates
        report.exited += result.exited
        report.paused += result.paused
        report.refused.extend(result.refused)
        return Outcome.EVENTS

    def _event(
        self, mail: Mail, fetched: Fetched, verdict: Verdict, target: Target, at: datetime
    ) -> Event:
        why = verdict.reason
        if fetched.truncated:
            why += f"; read its first {len(fetched.raw) // 1024} KB of {fetched.size // 1024} KB"
        data: dict[str, Any] = {
            "mailbox": f"{self.settings.name}/{self.folder}",
            "match": target.how,
            "why": why,
        }
        if verdict.return_date is not None:
            data["return_date"] = verdict.return_date.isoformat()
        if verdict.bounce is not None:
            data["kind"] = verdict.bounce
        return Event(
            verdict.kind.value,
            target.contact,
            at,
            sequence=target.sequence,
            data=data,
            event_id=f"{MAIL_EVENT_PREFIX}{_mail_key(mail, fetched)}:{target.contact}"
            + (f":{target.sequence}" if target.sequence else ""),
            message=target.message,
        )

    def _after_reading(self, handled: list[int]) -> None:
        """Mark or move the mail that made events, when the configuration asks (off by
        default); after the transaction, so a failure here loses no event."""
        if self.settings.mark_seen:
            self.session.mark_seen(handled)
        if self.settings.move_to is not None and handled:
            self.session.move(handled, self.settings.move_to)


def _read(fetched: Fetched, settings: InboxSettings) -> tuple[Mail, Verdict] | Skip:
    """The mail and what it is; a Skip, with the reason, for what cannot be read."""
    try:
        mail = parse_mail(fetched.raw, truncated=fetched.truncated)
        if isinstance(mail, Skip):
            return mail
        return mail, classify(mail, settings.unsubscribe)
    except Exception as exc:
        # Mail is untrusted and the email package raises on some hostile input: one bad
        # message must not stop the sync. It is reported with the reason instead.
        return Skip(f"unreadable: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")


def _mail_key(mail: Mail, fetched: Fetched) -> str:
    """What identifies the mail wherever it is read: its Message-ID, else a digest of it."""
    if mail.message_id and len(mail.message_id) <= 200:
        return mail.message_id
    return "sha256:" + hashlib.sha256(fetched.raw).hexdigest()[:40]


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = ["ImapError", "Outcome", "SyncReport", "sync", "sync_configured"]
