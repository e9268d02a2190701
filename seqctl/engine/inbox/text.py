"""The text a person wrote in a message: the plain part (else the HTML's text), without the
quotation of earlier mail that replies carry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from html.parser import HTMLParser

from seqctl.engine.inbox.headers import decode

# The new text of a message: enough for any out-of-office notice, never a whole thread.
MAX_TEXT = 20_000
# Where a reply's quotation of earlier mail starts, in the clients people use.
_QUOTE_START = re.compile(
    r"^(?:on .{0,200} wrote:|am .{0,200} schrieb .{0,100}:|em .{0,200} escreveu:"
    r"|el .{0,200} escribi[oó]:|le .{0,200} a [ée]crit ?:|-{2,} ?original message ?-{2,}"
    r"|-{2,} ?urspr[üu]ngliche nachricht ?-{2,}|-{2,} ?mensagem original ?-{2,}"
    r"|-{2,} ?mensaje original ?-{2,}|-{2,} ?forwarded message ?-{2,}|_{20,}"
    r"|(?:from|von|de|da): .{1,200}(?:\n|$)(?:sent|gesendet|enviado|envoy[ée]|inviato): )",
    re.IGNORECASE | re.MULTILINE,
)


def part_text(part: Message) -> str:
    """A part's payload as text, in its charset (or as well as it can be read)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode(payload, part.get_content_charset())


def body_text(message: Message) -> str:
    """The first plain-text part that is not an attachment; else the first HTML part's text."""
    html: str | None = None
    for part in _parts(message):
        if part.get_content_maintype() == "multipart":
            continue
        if (part.get("Content-Disposition") or "").strip().lower().startswith("attachment"):
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            return part_text(part)
        if kind == "text/html" and html is None:
            html = part_text(part)
    return html_text(html) if html is not None else ""


def _parts(message: Message) -> Iterator[Message]:
    """The parts in order, not descending into attached messages (they are not its text)."""
    yield message
    if message.get_content_type() in ("message/rfc822", "message/delivery-status"):
        return
    payload = message.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _parts(part)


def new_text(text: str) -> str:
    """What the writer wrote: quoted lines dropped, and everything from a quotation's start."""
    text = text[: MAX_TEXT * 4].replace("\r\n", "\n")
    start = _QUOTE_START.search(text)
    if start is not None and start.start() > 0:
        text = text[: start.start()]
    kept = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()[:MAX_TEXT]


class _Text(HTMLParser):
    """The visible text of HTML: no scripts or styles, no quoted replies, blocks on new lines."""

    _HIDDEN = frozenset(("script", "style", "head", "title", "blockquote"))
    _QUOTES = ("gmail_quote", "moz-cite-prefix", "divRplyFwdMsg", "yahoo_quoted")
    _BLOCKS = frozenset(("p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table"))
    _VOID = frozenset(("br", "img", "hr", "meta", "link", "input", "col", "wbr", "source"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, hides what is inside)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.chunks.append("\n")
        if tag in self._VOID:
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        hides = tag in self._HIDDEN or any(quote in marks for quote in self._QUOTES)
        self.open.append((tag, hides))

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCKS:
            self.chunks.append("\n")
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        if not any(hides for _, hides in self.open):
            self.chunks.append(data)


def html_text(html: str) -> str:
    """The text a person sees in an HTML body."""
    parser = _Text()
    try:
        parser.feed(html[: MAX_TEXT * 10])
        parser.close()
    except (AssertionError, ValueError):  # HTMLParser on hopeless markup
        pass
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).split("\n"))
    return "\n".join(line for line in lines if line)
