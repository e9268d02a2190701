"""A small IMAP client over the standard library's imaplib: what `inbox sync` needs, no more.

imaplib is enough here: the sync needs a login, EXAMINE (or SELECT), UID SEARCH, UID FETCH of a
message's first bytes, and for the options STORE and MOVE, all of which it speaks; a third-party
client would add a dependency for parsing that is a dozen lines below. Folders are opened with
EXAMINE (read-only) and bodies fetched with BODY.PEEK, so reading marks nothing as seen.
"""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from seqctl.engine.inbox.settings import InboxSettings, Security
from seqctl.errors import ExitCode, SeqctlError

_FETCH_HEAD = re.compile(rb"^(\d+) \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ImapError(SeqctlError):
    """The server could not be reached, refused the login, or failed a command."""

    exit_code = ExitCode.FINDINGS


@dataclass(frozen=True)
class FolderInfo:
    """An opened folder: its UIDVALIDITY and the UID the next message will get (if told)."""

    name: str
    uidvalidity: int
    uidnext: int | None


@dataclass(frozen=True)
class Fetched:
    """The first bytes of one message (all of it unless `size` is larger)."""

    uid: int
    size: int
    raw: bytes

    @property
    def truncated(self) -> bool:
        return self.size > len(self.raw)


class ImapSession:
    """One logged-in connection to an inbox's server."""

    def __init__(self, settings: InboxSettings, username: str, password: str) -> None:
        self.settings = settings
        self.where = f"{settings.host}:{settings.port}"
        self.capabilities: frozenset[str] = frozenset()
        self._imap = self._connect(username, password)

    def _connect(self, username: str, password: str) -> imaplib.IMAP4:
        settings = self.settings
        imap: imaplib.IMAP4 | None = None
        try:
            if settings.security is Security.TLS:
                imap = imaplib.IMAP4_SSL(
                    settings.host,
                    settings.port,
                    ssl_context=ssl.create_default_context(),
                    timeout=settings.timeout,
                )
            else:
                imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout)
                if settings.security is Security.STARTTLS:
                    imap.starttls(ssl_context=ssl.create_default_context())
            imap.login(username, password)
            # Servers tell more after the login (MOVE, UIDPLUS); imaplib keeps the first list.
            _, data = imap.capability()
            words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
            self.capabilities = frozenset(words.upper().split()) | frozenset(imap.capabilities)
            return imap
        except imaplib.IMAP4.error as exc:
            _logout(imap)
            raise ImapError(f"{self.where} refused the login of {username}: {_text(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            _logout(imap)
            raise ImapError(f"cannot connect to {self.where}: {_describe(exc)}") from None

    def open(self, folder: str, *, writable: bool) -> FolderInfo:
        """SELECT the folder (EXAMINE unless `writable`): its UIDVALIDITY and UIDNEXT."""
        status, data = self._call("open " + folder, self._imap.select, quote(folder), not writable)
        if status != "OK":
            raise ImapError(f"{self.where}: cannot open folder {folder!r}: {_joined(data)}")
        validity = self._number("UIDVALIDITY")
        if validity is None:
            raise ImapError(f"{self.where}: folder {folder!r} has no UIDVALIDITY")
        return FolderInfo(folder, validity, self._number("UIDNEXT"))

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above last_uid, in order (the server always answers `n:*` with the last one)."""
        return [u for u in self._search("UID", f"{last_uid + 1}:*") if u > last_uid]

    def uids_since(self, day: date) -> list[int]:
        """UIDs of the messages that arrived on or after this day."""
        return self._search("SINCE", f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}")

    def fetch(self, uids: Sequence[int], limit: int) -> list[Fetched]:
        """The first `limit` bytes of each message, with its real size; read-only (PEEK)."""
        if not uids:
            return []
        items = f"(UID RFC822.SIZE BODY.PEEK[]<0.{limit}>)"
        status, data = self._call("fetch", self._imap.uid, "FETCH", uid_set(uids), items)
        if status != "OK":
            raise ImapError(f"{self.where}: FETCH failed: {_joined(data)}")
        return parse_fetch(data)

    def mark_seen(self, uids: Sequence[int]) -> None:
        if uids:
            self._call("store", self._imap.uid, "STORE", uid_set(uids), "+FLAGS.SILENT", r"(\Seen)")

    def move(self, uids: Sequence[int], folder: str) -> None:
        """MOVE when the server has it; else COPY and flag the originals \\Deleted (without an
        EXPUNGE, which would also remove what the user deleted and kept)."""
        if not uids:
            return
        target = quote(folder)
        status, data = self._move(uids, target)
        if status != "OK" and "TRYCREATE" in _joined(data).upper():  # the folder is not there
            self._call("create", self._imap.create, target)
            status, data = self._move(uids, target)
        if status != "OK":
            raise ImapError(f"{self.where}: cannot move mail to {folder!r}: {_joined(data)}")

    def _move(self, uids: Sequence[int], target: str) -> tuple[str, list[object]]:
        if "MOVE" in self.capabilities:
            return self._call("move", self._imap.uid, "MOVE", uid_set(uids), target)
        status, data = self._call("copy", self._imap.uid, "COPY", uid_set(uids), target)
        if status == "OK":
            self._call("store", self._imap.uid, "STORE", uid_set(uids), "+FLAGS.SILENT",
                       r"(\Deleted)")  # fmt: skip
        return status, data

    def close(self) -> None:
        _logout(self._imap)

    def _search(self, *criteria: str) -> list[int]:
        status, data = self._call("search", self._imap.uid, "SEARCH", *criteria)
        if status != "OK":
            raise ImapError(f"{self.where}: SEARCH failed: {_joined(data)}")
        return sorted(int(n) for chunk in data if isinstance(chunk, bytes) for n in chunk.split())

    def _number(self, code: str) -> int | None:
        _, data = self._imap.response(code)
        values = [d for d in data if d]
        try:
            return int(values[-1]) if values else None
        except (TypeError, ValueError):
            return None

    def _call(
        self, what: str, command: Callable[..., tuple[str, list[Any]]], *args: object
    ) -> tuple[str, list[object]]:
        try:
            status, data = command(*args)
        except imaplib.IMAP4.abort as exc:
            raise ImapError(
                f"{self.where}: the connection was lost ({what}): {_text(exc)}"
            ) from None
        except imaplib.IMAP4.error as exc:
            raise ImapError(f"{self.where}: {what} failed: {_text(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            raise ImapError(f"{self.where}: {what} failed: {_describe(exc)}") from None
        return str(status), list(data)


def parse_fetch(data: Iterable[object]) -> list[Fetched]:
    """Messages of a UID FETCH answer as imaplib leaves it: (head, literal) tuples and bytes.

    The UID and size may come before the literal or after it; unsolicited FETCH responses (flag
    changes of other messages) carry no literal and are passed over.
    """
    found: list[Fetched] = []
    head: bytes | None = None
    literal = b""
    for item in data:
        if isinstance(item, tuple):
            if head is not None:
                found.extend(_message(head, literal))
            head, literal = bytes(item[0]), bytes(item[1])
        elif isinstance(item, bytes) and head is not None:
            head += b" " + item
            found.extend(_message(head, literal))
            head = None
    if head is not None:
        found.extend(_message(head, literal))
    return found


def _message(head: bytes, literal: bytes) -> list[Fetched]:
    uid, size = _UID.search(head), _SIZE.search(head)
    if uid is None or not _FETCH_HEAD.match(head):
        return []
    return [Fetched(int(uid.group(1)), int(size.group(1)) if size else len(literal), literal)]


def uid_set(uids: Sequence[int]) -> str:
    """1,2,3,7 as 1:3,7: short commands for long runs of UIDs."""
    ranges: list[str] = []
    ordered = sorted(uids)
    start = previous = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == previous + 1:
            previous = uid
            continue
        ranges.append(str(start) if start == previous else f"{start}:{previous}")
        if uid is not None:
            start = previous = uid
    return ",".join(ranges)


def quote(folder: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501) in double quotes."""
    encoded = _utf7(folder)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _utf7(name: str) -> str:
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _logout(imap: imaplib.IMAP4 | None) -> None:
    if imap is None:
        return
    try:
        imap.logout()
    except (imaplib.IMAP4.error, OSError, ssl.SSLError):
        try:
            imap.shutdown()
        except OSError:
            pass


def _text(exc: BaseException) -> str:
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    return " ".join(text.split()) or type(exc).__name__


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    return " ".join(str(exc).split()) or type(exc).__name__


def _joined(data: Sequence[object]) -> str:
    return " ".join(
        d.decode("utf-8", "replace") if isinstance(d, bytes) else str(d) for d in data if d
    )
