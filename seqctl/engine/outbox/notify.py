"""Tell sequence owners what needs them: one message per owner per tick, never one per event.

Each owner's digest is recorded as soon as it is sent, so a tick killed half-way sends again at
most the digest that was on its way, never those before it. A digest that could not go for now
(the channel is down) keeps its news for the next tick; the owners who got theirs do not hear
the same news twice meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from seqctl.channels import ChannelSet, Outgoing, send_all
from seqctl.engine.run.runtime import Versions
from seqctl.store import Store
from seqctl.store.records import News
from seqctl.timeutil import format_instant

MARK = "notified"
LABELS = {"action": "due for a person", "approval": "waits for approval", "failed": "failed",
          "reply": "replied", "meeting_booked": "booked a meeting"}  # fmt: skip
# Engagement that ended an enrollment (by the playbook's `on:` rule) is news too.
ENDED = {"open": "opened", "click": "clicked", "inbound": "wrote in", "bounce": "bounced"}


@dataclass(frozen=True)
class DigestFailure:
    """A digest that did not go: tried again at the next tick when the failure was temporary,
    given up on when the channel refused it for good (its news is not sent twice to a bad
    address every minute)."""

    owner: str
    error: str
    again: bool

    def as_json(self) -> dict[str, object]:
        return asdict(self)

    def describe(self) -> str:
        """One line for stderr."""
        then = "it is sent with the next tick" if self.again else "it is not tried again"
        return f"the digest to {self.owner} was not sent: {self.error}; {then}"


@dataclass
class Digests:
    sent: int = 0
    failed: list[DigestFailure] = field(default_factory=list)


def notify_owners(
    store: Store, channels: ChannelSet, settings: Mapping[str, Any], now: datetime
) -> Digests:
    """Send each owner a digest of what happened since the last one they got.

    What needs a person: actions that fell due (to the step's `assignee` when it has one),
    messages waiting for approval, steps that failed, replies, booked meetings, and enrollments
    ended by any engagement rule (an open, a click, an inbound message, a bounce).

    The mark `notified` is the history every owner has heard of; `notified:OWNER` how far one
    owner got past it while another's digest waits for a channel to come back.
    """
    digests = Digests()
    until = format_instant(now) or ""
    last = store.last_history_id()
    if last is None:  # history busy: the digest waits for the next tick, nothing is lost
        return digests
    seen = store.mark(MARK)
    if seen is None:  # the first run starts the record; nothing old is dug up
        with store.transaction():
            store.set_mark(MARK, str(last))
        return digests
    owners: dict[str, list[News]] = defaultdict(list)
    versions = Versions(store)
    for news in store.news_since(int(seen), last, kinds=tuple(LABELS), exits=ENDED):
        owner = versions.get(news.sequence).model.definition.get("owner") or settings.get("to")
        if news.kind == "action":
            owner = _assignee(versions, news) or owner
        if owner:
            owners[str(owner)].append(news)
    channel = channels.for_type(str(settings.get("channel", "email")))
    heard = last  # what every owner has heard of once this run is over
    for owner, items in sorted(owners.items()):
        told = store.mark(f"{MARK}:{owner}")
        fresh = [news for news in items if told is None or news.id > int(told)]
        if not fresh:
            continue
        [delivery] = send_all(channel, [_digest(owner, fresh, until)])
        if delivery.ok or not delivery.temporary:
            with store.transaction():  # at once: a kill now does not send it again
                store.set_mark(f"{MARK}:{owner}", str(last))
        if delivery.ok:
            digests.sent += 1
            continue
        error = delivery.error or "unknown error"
        digests.failed.append(DigestFailure(owner, error, again=delivery.temporary))
        if delivery.temporary:
            heard = min(heard, fresh[0].id - 1)
    with store.transaction():
        store.set_mark(MARK, str(heard))
    return digests


def _digest(owner: str, news: list[News], until: str) -> Outgoing:
    lines = [_line(item) for item in news]
    subject = f"seqctl: {len(lines)} {'things need' if len(lines) != 1 else 'thing needs'} you"
    body = "\n".join(
        [
            "Since your last digest:",
            "",
            *lines,
            "",
            "See them with: seqctl actions --due / seqctl approvals / seqctl timeline KEY",
        ]
    )
    return Outgoing(
        0, f"notify:{owner}:{until}", "seqctl", 0, "notify", owner, "email", owner, subject,
        body, until,
    )  # fmt: skip


def _assignee(versions: Versions, news: News) -> str | None:
    """The assignee of the step that made an action, in its enrollment's version."""
    for step in versions.get(news.sequence, news.version).steps:
        if step.id == news.step:
            found = step.spec.get("assignee")
            return str(found) if found else None
    return None


def _line(news: News) -> str:
    where = f"{news.sequence}/{news.step}" if news.step else news.sequence
    if news.kind in ENDED:
        what = f"{ENDED[news.kind]}: the sequence ended for them"
    elif news.kind == "failed":
        what = f"failed: {news.detail}" if news.detail else "failed"
    else:
        what = LABELS[news.kind]
    return f"- {format_instant(news.at)} {news.contact} {what} ({where})"
