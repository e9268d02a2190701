"""Which contact and sequence a message from the mailbox is about, and how that was found.

In order of certainty:
1. the message names one seqctl sent: a reply's In-Reply-To, then its References (newest
   first); a bounce's returned headers (X-Seqctl-Idempotency-Key, Message-ID), then its own
   In-Reply-To/References. That message's contact and sequence.
2. else the address: the sender of a reply (the bounced recipient of a bounce) against the
   contacts with that email address, for each of their live enrollments (active, waiting,
   paused or failed) in a sequence this inbox serves that began before the mail was written.
   An enrollment that began after it cannot be what it answers.
3. an unsubscribe names the contact's key in the address it was sent to, or else comes from
   the contact's address (any contact with it, enrolled or not: an unsubscribe is for good).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from seqctl.channels.smtp import message_id_local
from seqctl.engine.inbox.classify import Kind, Verdict
from seqctl.engine.inbox.mail import Mail
from seqctl.engine.run.runtime import Versions
from seqctl.store import Store
from seqctl.store.records import EnrollmentRecord, MessageRecord, SentMail

INDEX_BATCH = 5000
_INDEXED_MARK = "inbox.sent_mail"


@dataclass(frozen=True)
class Target:
    """One contact (in one sequence, or all of them) an event is recorded for, and how."""

    contact: str
    sequence: str | None
    message: int | None
    how: str


@dataclass(frozen=True)
class Served:
    """The sequences an inbox reads mail for: those sending from its senders (all: None).

    A sequence's sender is its playbook's `sender.email`, else the email channel's `from`.
    """

    senders: frozenset[str] | None
    default_sender: str | None = None


def index_sent_mail(store: Store) -> int:
    """Record the Message-ID of every email written since the last sync; how many.

    Done here rather than when sending: the tick pays nothing for a feature it may not use, and
    the ids are the channel's own (smtp.message_id_local), whatever the sender's domain.
    """
    done = 0
    after = int(store.mark(_INDEXED_MARK) or 0)
    while rows := store.email_messages_after(after, INDEX_BATCH):
        with store.transaction():
            store.add_sent_mail(
                SentMail(
                    local=message_id_local(row.idempotency_key, row.sequence, row.contact),
                    message=row.id,
                )
                for row in rows
            )
            after = rows[-1].id
            store.set_mark(_INDEXED_MARK, str(after))
        done += len(rows)
    return done


class Matcher:
    """Finds what a message is about, with a store and the sequences an inbox serves."""

    def __init__(self, store: Store, served: Served, versions: Versions | None = None) -> None:
        self.store = store
        self.served = served
        self.versions = versions or Versions(store)  # shared with the events' rules
        self._serves: dict[tuple[str, int], bool] = {}

    def sent_by_us(self, mail: Mail) -> bool:
        """A copy of a message seqctl sent (a Bcc to the sender, a server's copy)."""
        return mail.message_id is not None and bool(self._sent([mail.message_id]))

    def targets(self, mail: Mail, verdict: Verdict, at: datetime) -> list[Target]:
        """Whom the message is about; [] when nobody."""
        if verdict.kind is Kind.UNSUBSCRIBE:
            return self._unsubscriber(mail, verdict)
        if verdict.kind is Kind.BOUNCE:
            return self._bounced(mail, verdict, at)
        answered = self._answered(mail.in_reply_to, "In-Reply-To") or self._answered(
            tuple(reversed(mail.references)), "References"
        )
        if answered is not None:
            message, how = answered
            return [Target(message.contact, message.sequence, message.id, how)]
        return self._by_address(mail.sender, "sender", at, per_sequence=True)

    def _bounced(self, mail: Mail, verdict: Verdict, at: datetime) -> list[Target]:
        returned = mail.original
        if returned.idempotency_key:
            message = self.store.message_by_key(returned.idempotency_key)
            if message is not None:
                how = f"X-Seqctl-Idempotency-Key {returned.idempotency_key} of the returned mail"
                return [Target(message.contact, message.sequence, message.id, how)]
        answered = (
            self._answered((returned.message_id,), "Message-ID", " of the returned mail")
            if returned.message_id
            else None
        ) or self._answered(mail.in_reply_to + tuple(reversed(mail.references)), "In-Reply-To")
        if answered is not None:
            message, how = answered
            return [Target(message.contact, message.sequence, message.id, how)]
        for address in (verdict.recipient, *returned.to):
            found = self._by_address(address, "bounced recipient", at, per_sequence=False)
            if found:
                return found
        return []

    def _unsubscriber(self, mail: Mail, verdict: Verdict) -> list[Target]:
        if verdict.contact is not None and self.store.contact(verdict.contact) is not None:
            return [Target(verdict.contact, None, None, "the contact key in the address")]
        if mail.sender is None:
            return []
        return [
            Target(person.key, None, None, f"sender address {mail.sender}")
            for person in self.store.contacts_by_email(mail.sender)
        ]

    def _answered(
        self, ids: Sequence[str], header: str, suffix: str = ""
    ) -> tuple[MessageRecord, str] | None:
        """The first of these Message-IDs that seqctl sent, as (message, how it was found)."""
        found = self._sent(ids)
        for mail_id in ids:
            message_id = found.get(mail_id.rpartition("@")[0])
            message = self.store.message(message_id) if message_id is not None else None
            if message is not None:
                return message, f"{header} <{mail_id}>{suffix}"
        return None

    def _sent(self, ids: Sequence[str]) -> dict[str, int]:
        locals_ = [mail_id.rpartition("@")[0] for mail_id in ids if "@" in mail_id]
        return self.store.sent_mail(locals_) if locals_ else {}

    def _by_address(
        self, address: str | None, role: str, at: datetime, *, per_sequence: bool
    ) -> list[Target]:
        """Contacts with this address and a live enrollment begun before `at`, in a sequence
        this inbox serves: one target per enrollment, or per contact (a bounce is for all)."""
        if not address:
            return []
        targets: list[Target] = []
        how = f"{role} address {address} (a contact with a live enrollment)"
        for person in self.store.contacts_by_email(address):
            running = [
                e
                for e in self.store.enrollments(contact=person.key, live=True)
                if e.enrolled_at <= at and self._served(e)
            ]
            if running and not per_sequence:
                targets.append(Target(person.key, None, None, how))
            elif running:
                targets.extend(Target(person.key, e.sequence, None, how) for e in running)
        return targets

    def _served(self, enrollment: EnrollmentRecord) -> bool:
        senders = self.served.senders
        if senders is None:
            return True
        key = (enrollment.sequence, enrollment.version)
        if key not in self._serves:
            definition = self.versions.get(*key).model.definition
            sender = (definition.get("sender") or {}).get("email") or self.served.default_sender
            self._serves[key] = str(sender or "").lower() in senders
        return self._serves[key]
