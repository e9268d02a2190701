"""The HTTP event receiver: events POSTed by providers and scripts, opens and clicks from mail.

- `POST /events` with the shared secret: one JSON event, a JSON array of them, or JSON Lines,
  recorded as `seqctl events import` would; the reply is the EventReport as JSON.
- `GET /t/o/{token}.gif`: an `open` of the message the signed token names; always a 1x1 GIF.
- `GET /t/c/{token}?n=K`: a `click`, then a redirect to the message's own K-th link, never to a
  URL the request gives.
- `/u/{token}`: one-click unsubscribe (unsubscribe.py): a page on GET, the opt-out on POST.

Each request opens its own Store on the database (the server is threaded; the store's own
locking serialises the writes). A database that cannot take the event (locked past the
timeout, read-only, full, unreachable) answers 503 with Retry-After: nothing was recorded, the
sender tries again.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from seqctl.engine.contacts.strict_json import BadValue, decode_line
from seqctl.engine.incoming import unsubscribe
from seqctl.engine.incoming.events import Event, EventReport, parse_event, read_events, record
from seqctl.engine.messages import tracking
from seqctl.errors import DatabaseError, InputError, SeqctlError
from seqctl.store import Store, database_fault, open_store
from seqctl.store.location import Location
from seqctl.store.records import MessageRecord

MAX_BODY = 1024 * 1024
RETRY_AFTER = "30"  # seconds, on a 503: the database was locked, full, ...
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_INDEX = re.compile(r"[0-9]{1,6}")
# Characters a Location header may carry as they are; anything else (spaces, non-ASCII, control
# characters that could split the header) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


@dataclass(frozen=True)
class ReceiverSettings:
    store_path: Location
    secret: bytes
    tracking_secret: bytes | None
    now: Callable[[], datetime]
    log: Callable[[dict[str, Any]], None] | None = None  # each request, when set


class EventServer(ThreadingHTTPServer):
    """A threaded HTTP server that knows its database, secrets and clock."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], settings: ReceiverSettings) -> None:
        super().__init__(address, _Handler)
        self.settings = settings


def make_server(
    store_path: Location,
    *,
    host: str = "127.0.0.1",
    port: int,
    secret: bytes | None,
    tracking_secret: bytes | None,
    now: Callable[[], datetime],
    log: Callable[[dict[str, Any]], None] | None = None,
) -> ThreadingHTTPServer:
    """A bound, not yet serving, receiver; tracking is off when tracking_secret is None."""
    if not secret:
        raise InputError(
            "the event receiver needs a shared secret: events would be unauthenticated"
        )
    open_store(store_path).close()  # a bad path or database fails now, not on the first request
    settings = ReceiverSettings(store_path, secret, tracking_secret, now, log)
    try:
        return EventServer((host, port), settings)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def receive_events(store: Store, body: bytes, *, now: datetime) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON reply) for a POSTed body of events."""
    items = _events_in(body, now)
    if isinstance(items, str):
        return 400, {"error": items}
    try:
        report = record(store, items, now=now)
    except DatabaseError as exc:  # locked, full, ...: nothing was recorded; send it again
        return 503, {"error": exc.message}
    except SeqctlError as exc:
        return 400, {"error": exc.message}
    accepted = report.recorded + report.duplicates
    return (200 if accepted or not report.refused else 400), report.as_json()


def record_open(store: Store, message_id: int, *, now: datetime) -> EventReport | None:
    """An `open` of a message; opens within the same minute are one (mail clients reload)."""
    message = store.message(message_id)
    if message is None:
        return None
    minute = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    event = Event(
        "open",
        message.contact,
        now,
        sequence=message.sequence,
        event_id=f"open:{message_id}:{minute}",
        message=message_id,
    )
    return record(store, [("pixel", event)], now=now)


def click_target(store: Store, message: MessageRecord, index: int) -> str | None:
    """The message's own index-th tracked link: from its HTML, else from its text body."""
    html = store.message_extra(message.id).get("html")
    if isinstance(html, str) and html:
        found = tracking.links(html)
    else:
        found = tracking.text_links(message.body or "")
    return found[index] if 0 <= index < len(found) else None


def record_click(store: Store, message_id: int, index: int, *, now: datetime) -> str | None:
    """A `click` on a message's index-th link; returns the link, or None when there is none."""
    message = store.message(message_id)
    link = click_target(store, message, index) if message is not None else None
    if message is None or link is None:
        return None
    minute = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    event = Event(
        "click",
        message.contact,
        now,
        sequence=message.sequence,
        data={"link": link},
        event_id=f"click:{message_id}:{index}:{minute}",
        message=message_id,
    )
    record(store, [("click", event)], now=now)
    return link


def _events_in(body: bytes, now: datetime) -> list[tuple[str, Event | str]] | str:
    """The events of a body, each with where it came from; a string when the body is unusable."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if not text.strip():
        return "the body holds no events"
    try:
        whole = decode_line(text)
    except BadValue:  # JSON Lines, or a line that is wrong: each line says what it is
        return list(read_events(text.splitlines(), name="line", now=now))
    if isinstance(whole, dict):
        return [("body", _parsed(whole, now))]
    if isinstance(whole, list):
        return [(f"body[{i}]", _parsed(item, now)) for i, item in enumerate(whole)]
    return "the body must be a JSON object, an array of objects, or JSON Lines"


def _parsed(fields: object, now: datetime) -> Event | str:
    if not isinstance(fields, dict):
        return "each event must be a JSON object"
    try:
        return parse_event(fields, now=now)
    except InputError as exc:
        return exc.message


@contextmanager
def _database(settings: ReceiverSettings) -> Iterator[Store]:
    """The database for one request; a fault of the database itself (locked, read-only, full)
    comes out as a DatabaseError, whether met opening it, in a transaction or in a read."""
    try:
        with open_store(settings.store_path) as store:
            yield store
    except Exception as exc:
        fault = database_fault(exc, settings.store_path)
        if fault is None:
            raise
        raise fault from None


class _Handler(BaseHTTPRequestHandler):
    server: EventServer
    server_version = "seqctl"
    sys_version = ""
    timeout = 30  # a client that stops sending does not hold a thread forever

    def do_POST(self) -> None:
        settings = self.server.settings
        path = urlsplit(self.path).path
        if path.startswith(unsubscribe.PATH):
            self._unsubscribe(path[len(unsubscribe.PATH) :], settings, post=True)
            return
        if path != "/events":
            self._json(404, {"error": "not found"})
            return
        if not self._authorized(settings.secret):
            self._json(401, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
            return
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            self._json(411, {"error": "a Content-Length is required"})
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._json(413, {"error": f"the body is over {MAX_BODY} bytes"})
            return
        body = self.rfile.read(int(length))
        try:
            with _database(settings) as store:
                status, reply = receive_events(store, body, now=settings.now())
        except DatabaseError as exc:
            status, reply = 503, {"error": exc.message}
        self._json(status, reply, {"Retry-After": RETRY_AFTER} if status == 503 else None)

    def do_GET(self) -> None:
        settings = self.server.settings
        parts = urlsplit(self.path)
        if parts.path.startswith("/t/o/") and parts.path.endswith(".gif"):
            self._open(parts.path[len("/t/o/") : -len(".gif")], settings)
        elif parts.path.startswith("/t/c/"):
            self._click(parts.path[len("/t/c/") :], parse_qs(parts.query).get("n", []), settings)
        elif parts.path.startswith(unsubscribe.PATH):
            self._unsubscribe(parts.path[len(unsubscribe.PATH) :], settings, post=False)
        else:
            self._json(404, {"error": "not found"})

    def _open(self, token: str, settings: ReceiverSettings) -> None:
        message_id = self._message_id(token, settings)
        try:
            if message_id is not None:
                with _database(settings) as store:
                    record_open(store, message_id, now=settings.now())
        except DatabaseError as exc:  # an open is not worth a broken image: said, not shown
            sys.stderr.write(f"seqctl: open not recorded: {exc.message}\n")
        finally:  # the mail client gets its pixel whatever happened
            self._send(200, PIXEL, "image/gif")

    def _click(self, token: str, index: list[str], settings: ReceiverSettings) -> None:
        message_id = self._message_id(token, settings)
        link = None
        if message_id is not None and len(index) == 1 and _INDEX.fullmatch(index[0]):
            try:
                with _database(settings) as store:
                    link = record_click(store, message_id, int(index[0]), now=settings.now())
            except DatabaseError as exc:
                self._json(503, {"error": exc.message}, {"Retry-After": RETRY_AFTER})
                return
        if link is None:
            self._json(404, {"error": "not found"})
            return
        self._send(302, b"", "text/plain", {"Location": quote(link, safe=_URL_SAFE)})

    def _unsubscribe(self, token: str, settings: ReceiverSettings, *, post: bool) -> None:
        """GET: a page with a button; POST (the button, or a mail client's one click per
        RFC 8058, whatever its body): the unsubscribe recorded. Only a POST changes anything."""
        if post:
            length = self.headers.get("Content-Length", "0")
            if not length.isdigit() or int(length) > MAX_BODY:
                self.close_connection = True
            else:
                self.rfile.read(int(length))  # `List-Unsubscribe=One-Click`: nothing more
        status, page = unsubscribe.answer(
            settings.store_path, token, settings.tracking_secret, now=settings.now(), post=post
        )
        self._send(status, page.encode("utf-8"), "text/html; charset=utf-8")

    @staticmethod
    def _message_id(token: str, settings: ReceiverSettings) -> int | None:
        if settings.tracking_secret is None:
            return None
        return tracking.read_token(token, settings.tracking_secret)

    def _authorized(self, secret: bytes) -> bool:
        given = [self.headers.get("X-Seqctl-Secret")]
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            given.append(value.strip())
        # Header bytes arrive decoded as Latin-1: encoding back gives what the client sent.
        return any(
            hmac.compare_digest(candidate.encode("latin-1", "replace"), secret)
            for candidate in given
            if candidate is not None
        )

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8") + b"\n"
        self._send(status, body, "application/json", headers)

    def _send(
        self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store, private")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log = self.server.settings.log
        if log is not None:
            path = urlsplit(self.path).path if hasattr(self, "path") else None
            log(
                {
                    "client": self.address_string(),
                    "method": getattr(self, "command", None),
                    "path": path,  # no query string: it may carry a signed token
                    "status": int(code) if str(code).isdigit() else code,
                }
            )

    def log_message(self, format: str, *args: Any) -> None:
        log = self.server.settings.log
        if log is not None:
            log({"client": self.address_string(), "problem": format % args})
