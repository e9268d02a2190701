"""One-click unsubscribe (RFC 8058) behind `events serve`: `/u/{token}`.

The token is a message's id signed for unsubscribing (tracking.unsubscribe_token), so a link
opts out only the person it was sent to, never someone whose key was guessed. A POST records an
`unsubscribe` of that message, which suppresses the address it went to; a GET only shows a
page with a button that POSTs, because mail scanners follow links and must not unsubscribe
anyone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from seqctl.engine.incoming.events import Event, record
from seqctl.engine.messages.tracking import read_unsubscribe_token
from seqctl.store import Store, open_store
from seqctl.store.location import Location
from seqctl.store.records import MessageRecord

PATH = "/u/"

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em">
<h1>{title}</h1>
<p>{text}</p>
{form}</body>
</html>
"""
_FORM = """<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
"""


def masked(address: str | None) -> str:
    """An address as the page shows it (a forwarded link should not reveal it whole)."""
    if not address:
        return "this address"
    name, at, domain = address.rpartition("@")
    if at:
        return f"{name[:1]}***@{domain}"
    return f"***{address[-4:]}" if len(address) > 4 else "***"


def confirm_page(message: MessageRecord) -> str:
    """What a GET shows: who is concerned, and a button that POSTs."""
    text = f"Stop all messages to {escape(masked(message.to_address))}?"
    return _PAGE.format(title="Unsubscribe", text=text, form=_FORM)


def done_page(message: MessageRecord) -> str:
    text = f"You are unsubscribed: {escape(masked(message.to_address))} gets no more messages."
    return _PAGE.format(title="Unsubscribed", text=text, form="")


def not_found_page() -> str:
    text = "This unsubscribe link is not valid. Reply to the message to be taken off the list."
    return _PAGE.format(title="Link not valid", text=text, form="")


def unsubscribe(store: Store, message_id: int, *, now: datetime) -> MessageRecord | None:
    """Record the unsubscribe of a message's recipient; None when there is no such message.

    The same link posted twice within a minute counts once (a client retrying).
    """
    message = store.message(message_id)
    if message is None:
        return None
    minute = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    event = Event(
        "unsubscribe",
        message.contact,
        now,
        sequence=message.sequence,
        data={"channel": message.channel, "via": "one-click"},
        event_id=f"unsubscribe:{message_id}:{minute}",
        message=message_id,
    )
    report = record(store, [("one-click", event)], now=now)
    return None if report.refused else message


def answer(
    store_path: Location, token: str, secret: bytes | None, *, now: datetime, post: bool
) -> tuple[int, str]:
    """(HTTP status, HTML page) for a GET (post=False) or POST of /u/{token}."""
    message_id = read_unsubscribe_token(token, secret) if secret else None
    message = None
    if message_id is not None:
        with open_store(store_path) as store:
            message = unsubscribe(store, message_id, now=now) if post else store.message(message_id)
    if message is None:
        return 404, not_found_page()
    return 200, done_page(message) if post else confirm_page(message)
