"""Tell sequence owners what needs them: one message per owner per tick, never one per event."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
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


def notify_owners(
    store: Store, channels: ChannelSet, settings: Mapping[str, Any], now: datetime
) -> int:
    """Send each owner a digest of what happened since the last one; how many were sent.

    What needs a person: actions that fell due (to the step's `assignee` when it has one),
    messages waiting for approval, steps that failed, replies, booked meetings, and enrollments
    ended by any engagement rule (an open, a click, an inbound message, a bounce).
    """
    until = format_instant(now) or ""
    last = store.last_history_id()
    if last is None:  # history busy: the digest waits for the next tick, nothing is lost
        return 0
    seen = store.mark(MARK)
    if seen is None:  # the first run starts the record; nothing old is dug up
        with store.transaction():
            store.set_mark(MARK, str(last))
        return 0
    owners: dict[str, list[str]] = defaultdict(list)
    versions = Versions(store)
    for news in store.news_since(int(seen), last, kinds=tuple(LABELS), exits=ENDED):
        owner = versions.get(news.sequence).model.definition.get("owner") or settings.get("to")
        if news.kind == "action":
            owner = _assignee(versions, news) or owner
        if owner:
            owners[str(owner)].append(_line(news))
    channel = channels.for_type(str(settings.get("channel", "email")))
    sent = 0
    for owner, lines in sorted(owners.items()):
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
        message = Outgoing(
            0,
            f"notify:{owner}:{until}",
            "seqctl",
            0,
            "notify",
            owner,
            "email",
            owner,
            subject,
            body,
            until,
        )
        [delivery] = send_all(channel, [message])
        sent += delivery.ok
    with store.transaction():
        store.set_mark(MARK, str(last))
    return sent


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
