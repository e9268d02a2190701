"""The one small interface every channel implements."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(slots=True)
class Outgoing:
    """A stored message on its way out."""

    id: int
    idempotency_key: str
    sequence: str
    version: int
    step: str
    contact: str
    channel: str
    to: str | None
    subject: str | None
    body: str | None
    sent_at: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "idempotency_key": self.idempotency_key,
            "sequence": self.sequence,
            "version": self.version,
            "step": self.step,
            "contact": self.contact,
            "channel": self.channel,
            "to": self.to,
            "subject": self.subject,
            "body": self.body,
            "sent_at": self.sent_at,
        }
        data.update(self.extra)
        if "attachments" in data:  # bytes stay in memory; the JSON names them
            data["attachments"] = [
                {k: v for k, v in item.items() if k != "data"} for item in data["attachments"]
            ]
        return data

    def json_text(self) -> str:
        """as_json() as compact JSON text on one line, made field by field (the outbox writes
        one line per message, and this is several times cheaper than encoding a fresh dict)."""
        extra = self.extra
        if "attachments" in extra or not _BASE_KEYS.isdisjoint(extra):
            return _one_line(_ENCODER.encode(self.as_json()))
        text = (
            f'{{"id":{self.id},"idempotency_key":{_text(self.idempotency_key)},'
            f'"sequence":{_text(self.sequence)},"version":{self.version},'
            f'"step":{_text(self.step)},"contact":{_text(self.contact)},'
            f'"channel":{_text(self.channel)},"to":{_maybe(self.to)},'
            f'"subject":{_maybe(self.subject)},"body":{_maybe(self.body)},'
            f'"sent_at":{_text(self.sent_at)}'
        )
        return _one_line(f"{text}{_extra_text(extra)}}}" if extra else text + "}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_text = json.encoder.encode_basestring
_BASE_KEYS = frozenset(
    ("id", "idempotency_key", "sequence", "version", "step", "contact", "channel", "to")
    + ("subject", "body", "sent_at")
)


_EXTRA_TEXTS: dict[int, tuple[dict[str, Any], str]] = {}


def _extra_text(extra: dict[str, Any]) -> str:
    """`,"key":value...` for the extra fields, made once per dict: the messages of a step
    mostly share one (the sender). The dict is kept with its text, so its id is not reused."""
    found = _EXTRA_TEXTS.get(id(extra))
    if found is not None and found[0] is extra:
        return found[1]
    encode = _ENCODER.encode
    text = "".join([f",{_text(k)}:{encode(v)}" for k, v in extra.items()])
    if len(_EXTRA_TEXTS) >= 256:
        _EXTRA_TEXTS.clear()
    _EXTRA_TEXTS[id(extra)] = (extra, text)
    return text


# JSON escapes every other line break (all are below U+0020) but writes these as they are, and
# readers of lines split on them: str.splitlines(), JavaScript before ES2019, some log tools.
_SEPARATORS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def _one_line(text: str) -> str:
    """JSON text that every reader of lines takes as one line (the same JSON value)."""
    # Runs once per message: isascii() is a flag lookup, and `in` is a memchr (or nothing,
    # when the text has no character as wide); a regex would scan the line in Python's engine.
    if text.isascii():
        return text
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        return text.translate(_SEPARATORS)
    return text


def _maybe(value: str | None) -> str:
    return "null" if value is None else _text(value)


@dataclass(slots=True)
class Delivery:
    """What happened to one message: a provider id, or an error (temporary ones are retried).

    `unknown` counts sends of this message whose outcome stayed unknown (the connection died
    after the whole message was sent, a webhook timed out): the message goes out again with
    the same idempotency key, and `seqctl messages` says so. `held`: not tried at all, because
    the channel is down for now (its breaker tripped): the message waits, it is no attempt.
    `retry_after`: seconds the server asked to wait before the next try.
    """

    message_id: int
    provider_id: str | None = None
    error: str | None = None
    temporary: bool = False
    retry_after: float | None = None
    unknown: int = 0
    held: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Progress:
    """What a channel reports as it goes: messages a connection is about to transmit
    (`started`), and outcomes now known (`done`). The caller records each before asking for
    the next, and a connection waits for that before it starts its next message: a tick
    killed at any moment leaves at most one message per connection with no recorded outcome.
    """

    started: list[int] = field(default_factory=list)
    done: list[Delivery] = field(default_factory=list)
    journaled: int = 0  # the last journal entry of the reports in it (0: kept in no journal)


class Journal(Protocol):
    """Where a connection keeps what it reports before it goes on, when the caller keeps one:
    it then does not wait for the caller to record it (see engine.outbox.journal)."""

    def append(self, started: list[int], done: list[Delivery]) -> int:
        """Keep one report for good; its number (each larger than the one before)."""
        ...


class Channel(Protocol):
    name: str
    # True for a channel that can say which messages it already has (`delivered`): the file
    # channel. It takes whole batches, marked `sending` before they are handed over. False:
    # each message is marked `sending` as a connection starts it (Progress.started).
    knows_delivered: bool

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        """Deliver messages, reporting as it goes; every message ends up in one `done`, except
        those left unstarted once `halt()` is true (they stay queued for the next tick)."""
        ...

    def delivered(self, keys: set[str]) -> set[str]:
        """Of these idempotency keys (in flight when a tick died), those already delivered."""
        ...

    def close(self) -> None: ...


class Flow(Protocol):
    """Messages handed to a channel's connections as they are made, batch after batch, so
    they never sit idle while the next batch is made (see lanes.LaneFlow)."""

    def put(self, messages: Sequence[Outgoing]) -> None: ...

    def end(self) -> None: ...

    def ready(self) -> bool: ...

    def collect(self, timeout: float = 0.0) -> Progress | None: ...

    def recorded(self) -> None: ...

    @property
    def finished(self) -> bool: ...

    def abandon(self) -> None: ...


@runtime_checkable
class Streaming(Protocol):
    """A channel with connections of its own (SMTP, webhooks): it also takes messages as they
    come. A channel without (the file) takes whole batches through `send`."""

    def flow(
        self, halt: Callable[[], bool] | None = None, journal: Journal | None = None
    ) -> Flow: ...


def send_all(
    channel: Channel, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
) -> list[Delivery]:
    """Every outcome in the order of `messages`, for callers that record nothing in between
    (owner digests, tests). Messages left unstarted after a halt are missing."""
    order = {m.id: index for index, m in enumerate(messages)}
    done = [d for progress in channel.send(messages, halt) for d in progress.done]
    return sorted(done, key=lambda d: order.get(d.message_id, len(order)))
