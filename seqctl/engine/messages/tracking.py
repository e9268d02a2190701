"""Open and click tracking: a pixel and signed links in a message's HTML. Pure functions, no I/O.

A tracked link is `{base_url}/t/c/{token}?n={index}`: the token names the message and is signed
with HMAC-SHA256, and the index says which of the message's own links was clicked, so the
receiver redirects only to a link that was in the message, never to a URL given in the request.
The original HTML stays in the database; `links(original)[index]` is where a click goes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape, unescape
from html.parser import HTMLParser
from typing import Any

from seqctl.credentials import shown
from seqctl.errors import ConfigError

_ID_BYTES = 8
_MAC_BYTES = 16
_TOKEN_LENGTH = 32  # base64 of 24 bytes, no padding needed
_MAC_CONTEXT = b"seqctl-tracking-v1:"
_UNSUBSCRIBE_CONTEXT = b"seqctl-unsubscribe-v1:"
# A name, then optionally = and a quoted or bare value: how browsers split a tag's attributes.
_ATTRIBUTE = re.compile(r"""([^\s/>"'=][^\s/>=]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_TEXT_LINK = re.compile(r"""https?://[^\s<>"'(){}\[\]]+""", re.IGNORECASE)
_TRAILING = ".,;:!?"


def token(message_id: int, secret: bytes, context: bytes = _MAC_CONTEXT) -> str:
    """The signed, URL-safe name of a message in tracking URLs."""
    raw = message_id.to_bytes(_ID_BYTES, "big")
    return base64.urlsafe_b64encode(raw + _mac(raw, secret, context)).decode("ascii")


def unsubscribe_token(message_id: int, secret: bytes) -> str:
    """The signed name of a message in its unsubscribe link. Signed for that purpose only: a
    tracking token does not unsubscribe, so nobody can opt others out by guessing keys."""
    return token(message_id, secret, _UNSUBSCRIBE_CONTEXT)


def read_unsubscribe_token(value: str, secret: bytes) -> int | None:
    """The message id an unsubscribe token names when its signature is valid, else None."""
    return read_token(value, secret, _UNSUBSCRIBE_CONTEXT)


def read_token(token: str, secret: bytes, context: bytes = _MAC_CONTEXT) -> int | None:
    """The message id a token names when its signature is valid, else None."""
    if len(token) != _TOKEN_LENGTH:
        return None
    try:
        decoded = base64.urlsafe_b64decode(token.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    # b64decode skips characters outside the alphabet: accept only the one canonical spelling.
    if (
        len(decoded) != _ID_BYTES + _MAC_BYTES
        or base64.urlsafe_b64encode(decoded) != token.encode()
    ):
        return None
    raw, mac = decoded[:_ID_BYTES], decoded[_ID_BYTES:]
    if not hmac.compare_digest(mac, _mac(raw, secret, context)):
        return None
    return int.from_bytes(raw, "big")


def instrument(html: str, *, message_id: int, base_url: str, secret: bytes) -> str:
    """The HTML with a 1x1 open pixel and every tracked link pointing at the click endpoint."""
    base = base_url.rstrip("/")
    signed = token(message_id, secret)
    scan = _scan(html)
    edits: list[tuple[int, int, str]] = []
    for index, (start, end, _url) in enumerate(scan.links):
        target = escape(f"{base}/t/c/{signed}?n={index}", quote=True)
        edits.append((start, end, f'"{target}"'))
    pixel = (
        f'<img src="{escape(f"{base}/t/o/{signed}.gif", quote=True)}" width="1" height="1" alt="">'
    )
    at = scan.body_end if scan.body_end is not None else len(html)
    edits.append((at, at, pixel))
    return _apply(html, edits)


def links(html: str) -> list[str]:
    """The message's tracked links, in the order instrument() numbers them."""
    return [url for _start, _end, url in _scan(html).links]


def instrument_text(body: str, *, message_id: int, base_url: str, secret: bytes) -> str:
    """A plain-text body with its http(s) links pointing at the click endpoint.

    For a message without HTML only: the receiver numbers a click against the HTML when the
    message has some, and against text_links(body) when it has none.
    """
    base = base_url.rstrip("/")
    signed = token(message_id, secret)
    edits = [
        (start, end, f"{base}/t/c/{signed}?n={index}")
        for index, (start, end, _url) in enumerate(_text_links(body))
    ]
    return _apply(body, edits)


def text_links(body: str) -> list[str]:
    """The tracked links of a plain-text body, in the order instrument_text() numbers them."""
    return [url for _start, _end, url in _text_links(body)]


def is_tracked(url: str) -> bool:
    """Links that are rewritten: http(s) only, and never an unsubscribe link."""
    lowered = url.lower()
    return lowered.startswith(("http://", "https://")) and "unsubscribe" not in lowered


def _mac(raw: bytes, secret: bytes, context: bytes = _MAC_CONTEXT) -> bytes:
    return hmac.new(secret, context + raw, hashlib.sha256).digest()[:_MAC_BYTES]


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace (start, end) spans, given in order and not overlapping."""
    parts, cursor = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        parts += [text[cursor:start], replacement]
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def _text_links(body: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _TEXT_LINK.finditer(body):
        url = match.group().rstrip(_TRAILING)
        if is_tracked(url):
            found.append((match.start(), match.start() + len(url), url))
    return found


class _Scan(HTMLParser):
    """Where the tracked hrefs and the closing body tag are; the parser skips comments and
    scripts, so a link inside them is left alone."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", html)]
        self.links: list[tuple[int, int, str]] = []  # (value start, value end, url)
        self.body_end: int | None = None

    def here(self) -> int:
        line, column = self.getpos()
        return self.line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        span = self._href_span(self.here(), self.get_starttag_text() or "")
        if span is None:
            return
        start, end, value = span
        url = value.strip()
        if is_tracked(url):
            self.links.append((start, end, url))

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self.here()

    @staticmethod
    def _href_span(at: int, text: str) -> tuple[int, int, str] | None:
        """The first href value of a start tag: its span in the document and its text."""
        name = re.match(r"<[^\s/>]+", text)
        for match in _ATTRIBUTE.finditer(text, name.end() if name else 0):
            if match.group(1).lower() != "href":
                continue
            value = match.group(2)
            if not value:
                return None
            start, end = at + match.start(2), at + match.end(2)
            if value[0] in "'\"":
                value = value[1:-1]
            return start, end, unescape(value)
        return None


def _scan(html: str) -> _Scan:
    scan = _Scan(html)
    scan.feed(html)
    scan.close()
    return scan


@dataclass(frozen=True)
class TrackingSettings:
    """Where tracked links point and the key that signs them (seqctl.yaml `tracking:`)."""

    base_url: str
    secret: bytes


DEFAULT_SECRET_ENV = "SEQCTL_EVENTS_SECRET"


def tracking_settings(
    config: Mapping[str, Any], environ: Mapping[str, str]
) -> TrackingSettings | None:
    """The tracking settings of a configuration, or None when tracking is off.

    The signing key comes from the variable named by `tracking.secret_env`, else from
    SEQCTL_EVENTS_SECRET (the receiver's own secret), never from the file.
    """
    spec = config.get("tracking")
    if not spec:
        return None
    name = str(spec.get("secret_env") or DEFAULT_SECRET_ENV)
    value = environ.get(name)
    if not value:
        # Not named unless it reads as a variable's name: it may be the key itself, typed there.
        where = f"${name}" if shown(name) else "the variable that tracking.secret_env names"
        raise ConfigError(f"seqctl.yaml: tracking needs a signing key in {where}, which is not set")
    return TrackingSettings(str(spec["base_url"]).rstrip("/"), value.encode("utf-8"))


def signing_key(config: Mapping[str, Any], environ: Mapping[str, str]) -> bytes | None:
    """The key links are signed with, as `events serve` checks them: tracking's when tracking
    is configured, else SEQCTL_EVENTS_SECRET; None when neither is set."""
    settings = tracking_settings(config, environ)
    if settings is not None:
        return settings.secret
    value = environ.get(DEFAULT_SECRET_ENV)
    return value.encode("utf-8") if value else None
