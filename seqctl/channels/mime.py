"""Email header values made from data: one line each, plain or RFC 2047, checked as written.

Python's email package parses every header value it is given and decodes the RFC 2047 encoded
words in it (`=?utf-8?q?Bob=0D=0ABcc:_x@evil.test?=`) after any check of ours, and on Python
3.11 and 3.12 it writes the decoded line breaks out as they are: a contact field could add
headers or replace the body. So no text from data is ever handed to it to parse. The value of
each header seqctl sets is composed here in its final form (ASCII, encoded words where plain
text would not do, folded) and stored raw; POLICY writes such values as they are, and refuses to
write any header, ours or the email package's own, whose bytes are not exactly one header.

Text that looks like an encoded word is sent as those literal characters (encoded in turn), so
a recipient reads what the template rendered, never a decoding of it.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.policy import EmailPolicy
from functools import cache
from typing import Any
from urllib.parse import quote

MAX_LINE = 76  # folded lines aim at this (RFC 2047 with encoded words); RFC 5322 allows 998
_LIMIT = 998
_WORD = 75  # the longest encoded word (RFC 2047)
_SHORTEST = 24  # room for an encoded word of at least one character of any kind
_PREFIX = "=?utf-8?"  # and "q?" or "b?", then the text and "?="
# Line breaks of every kind (str.splitlines, Unicode), other control characters and white
# space runs: a header is one line, and these become one space.
_SPACES = re.compile(r"[\x00-\x20\x7f-\x9f\u2028\u2029]+")
_PLAIN = re.compile(r"[\x21-\x7e]{1,70}")  # a word that can go as it is (without "=?")
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")
# Safe in a `q` encoded word anywhere, a display name included (RFC 2047 5(3)).
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_ESCAPED = re.compile(r'["\\]')
_CONTINUATION = re.compile(r"%[89AB][0-9A-F]")  # a byte inside a UTF-8 character
# RFC 2231/5987 attr-char: what a parameter value keeps unescaped.
_ATTR_SAFE = "!#$&+-.^_`|~"


class UnsafeHeader(ValueError):
    """A header could not be written as exactly one header: the message must not go out."""


def one_line(text: str) -> str:
    """Text as a header carries it: line breaks, tabs, other control characters and runs of
    spaces become one space, with no white space at either end."""
    return _SPACES.sub(" ", text).strip()


def unstructured(name: str, text: str) -> str:
    """The value of a free-text header (Subject, X-...): words that can go as they are stay
    readable, the rest (non-ASCII, too long, or looking like an encoded word) is encoded."""
    parts: list[str | _Encode] = []
    run: list[str] = []
    for word in one_line(text).split(" "):
        if _plain(word):
            parts.extend([_Encode(" ".join(run))] if run else [])
            run = []
            parts.append(word)
        elif word:
            run.append(word)
    parts.extend([_Encode(" ".join(run))] if run else [])
    return _fold(name, parts)


def mailbox(header: str, name: str, address: str) -> str:
    """`Display Name <local@domain>` (or the bare address without a name), for From and To.
    `address` must be checked already; the name may be any text."""
    if not _ADDRESS.fullmatch(address):
        raise UnsafeHeader(f"cannot write the {header} header: the address is not plain ASCII")
    name = one_line(name)
    if not name:
        return address
    words = name.split(" ")
    parts: list[str | _Encode]
    if _ATOMS.fullmatch(name) and all(_plain(w) for w in words):
        parts = list(words)
    elif all(_plain(w) for w in words):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        parts = list(f'"{quoted}"'.split(" "))
    else:
        parts = [_Encode(name)]
    return _fold(header, [*parts, f"<{address}>"])


def attachment(filename: str) -> str:
    """The Content-Disposition of an attachment: a short plain name quoted, any other in
    RFC 2231 form (UTF-8, percent-encoded, continued over lines when long)."""
    name = one_line(filename)
    if not name:
        return "attachment"
    # Quoted only when no escape is needed: readers unquote such names differently.
    if len(name) <= 60 and all(_plain(w) for w in name.split(" ")) and not _ESCAPED.search(name):
        return f'attachment;\n filename="{name}"'
    text = quote(name, safe=_ATTR_SAFE)
    parts: list[str] = []
    while text:
        cut = min(50, len(text))
        while "%" in text[max(0, cut - 2) : cut]:  # never split an escape: %E2|%82
            cut -= 1
        while _CONTINUATION.match(text, cut):  # nor a character: %C3|%A9
            cut -= 3
        parts.append(text[:cut])
        text = text[cut:]
    if len(parts) == 1:
        return f"attachment;\n filename*=utf-8''{parts[0]}"
    first = f"attachment;\n filename*0*=utf-8''{parts[0]}"
    return first + "".join(f";\n filename*{i}*={part}" for i, part in enumerate(parts) if i)


def _plain(word: str) -> bool:
    return _PLAIN.fullmatch(word) is not None and "=?" not in word


@dataclass(frozen=True)
class _Encode:
    """Text to go as encoded words, the first one cut to fit the line it starts on."""

    text: str


def _fold(header: str, parts: list[str | _Encode]) -> str:
    """Words joined by spaces, with a line break before a space where a line would pass
    MAX_LINE (unfolding takes the breaks out and leaves the text as it was). A line that holds
    an encoded word stays within RFC 2047's 76 characters."""
    out: list[str] = []
    used = len(header) + 2

    def put(token: str) -> None:
        nonlocal used
        if not out:  # right after "Name: " even when long: a break there would add a space
            out.append(token)
            used += len(token)
        elif used + 1 + len(token) > MAX_LINE:
            out.append(f"\n {token}")
            used = 1 + len(token)
        else:
            out.append(f" {token}")
            used += 1 + len(token)

    for part in parts:
        if isinstance(part, str):
            put(part)
            continue
        room = MAX_LINE - used - (1 if out else 0)
        for word in _encoded(part.text, min(room, _WORD) if room >= _SHORTEST else _WORD):
            put(word)
    return "".join(out)


def _encoded(text: str, first: int) -> list[str]:
    """`text` as encoded words of at most 75 characters (the first at most `first`), in the
    shorter of the q and b encodings. Decoders drop the white space between two encoded
    words, so each word ends after a space of the text where it can (as the email package
    cuts them): a reader that keeps that white space (Python's own, in a display name) then
    doubles a space instead of splitting a word."""
    overhead = len(_PREFIX) + 4  # =?utf-8?q? and ?=
    if sum(len(_q(char)) for char in text) <= 4 * -(-len(text.encode()) // 3):
        chunks = _cut(text, lambda c: len(_q(c)), first - overhead, _WORD - overhead)
        return [f"{_PREFIX}q?{_q(chunk)}?=" for chunk in chunks]
    rooms = ((first - overhead) // 4 * 3, (_WORD - overhead) // 4 * 3)
    chunks = _cut(text, lambda c: len(c.encode()), *rooms)
    return [f"{_PREFIX}b?{base64.b64encode(chunk.encode()).decode('ascii')}?=" for chunk in chunks]


def _q(text: str) -> str:
    return "".join(
        chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in text.encode()
    )


def _cut(text: str, size: Callable[[str], int], first: int, room: int) -> list[str]:
    """`text` in pieces of whole characters, the first of at most `first` (as `size` counts)
    and the others of at most `room`; a piece ends after its last space when it has one."""
    pieces: list[str] = []
    start = used = 0
    space = -1
    for index, char in enumerate(text):
        limit = room if pieces else first
        if used and used + size(char) > limit:
            carried = sum(size(c) for c in text[space + 1 : index]) if space >= start else used
            cut = space + 1 if carried + size(char) <= room else index
            pieces.append(text[start:cut])
            start, space = cut, -1
            used = carried if cut < index else 0
        used += size(char)
        if char == " ":
            space = index
    pieces.append(text[start:])
    return pieces


class _Policy(EmailPolicy):
    """policy.SMTP in 7 bits that writes the values composed above as they are (they are
    folded already) and checks every header it writes: one header, ASCII, short lines."""

    def fold(self, name: str, value: Any) -> str:
        return _checked(name, super().fold(name, value), self.linesep)

    def fold_binary(self, name: str, value: Any) -> bytes:
        try:
            folded = super().fold_binary(name, value)
        except UnicodeEncodeError:
            raise UnsafeHeader(f"cannot write the {name} header in plain ASCII") from None
        _checked(name, folded.decode("ascii", "replace"), self.linesep)
        return folded


@cache
def _one_header(linesep: str) -> re.Pattern[str]:
    """A header and its continuation lines: every line but the first starts with white space
    and has something after it, and nothing but printable ASCII, spaces and tabs."""
    end = re.escape(linesep)
    return re.compile(rf"[!-9;-~]+:[ \t!-~]*(?:{end}[ \t]+[!-~][ \t!-~]*)*{end}")


def _checked(name: str, folded: str, linesep: str) -> str:
    if not _one_header(linesep).fullmatch(folded) or not folded.lower().startswith(
        name.lower() + ":"
    ):
        raise UnsafeHeader(f"cannot write the {name} header as one header of plain text")
    if max(len(line) for line in folded.split(linesep)) > _LIMIT:
        raise UnsafeHeader(
            f"cannot write the {name} header: a line would be over {_LIMIT} characters"
        )
    return folded


# Bodies that are not plain ASCII go out quoted-printable or base64, so no 8BITMIME is needed.
POLICY = _Policy(linesep="\r\n", cte_type="7bit", refold_source="none")
