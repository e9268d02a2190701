"""The JSON line of a message, made field by field, is exactly what encoding its dict gives,
with the three line separators JSON leaves raw escaped: one message, one line, for any reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from seqctl.channels import FileChannel, Outgoing, send_all

# Every line break str.splitlines() knows, and the characters around them.
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
texts = st.text() | st.lists(st.sampled_from(BREAKS) | st.text(max_size=3)).map("".join)
maybe = st.none() | texts
values = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
extras = st.dictionaries(st.sampled_from(["from", "html", "template", "url", "to", "x"]), values)
RAW_SEPARATORS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def reference(message: Outgoing) -> str:
    text = json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":"))
    return text.translate(RAW_SEPARATORS)


@given(texts, texts, st.integers(), maybe, maybe, maybe, extras)
def test_json_text_matches_the_encoded_dict(
    key: str, contact: str, number: int, to: str | None, subject: str | None,
    body: str | None, extra: dict[str, Any],
) -> None:  # fmt: skip
    message = Outgoing(
        number, key, "seq", 2, "hello", contact, "email", to, subject, body,
        "2026-11-23T09:00:00Z", extra,
    )  # fmt: skip
    text = message.json_text()
    assert text == reference(message)
    assert json.loads(text) == message.as_json()
    assert text.splitlines() == [text]  # no reader of lines can split it


def test_plain_text_is_not_escaped_any_further() -> None:
    message = Outgoing(1, "k", "s", 1, "st", "c", "email", "a@b", "Olá — ça va", "B", "t")
    assert '"subject":"Olá — ça va"' in message.json_text()


def test_attachments_are_named_not_carried() -> None:
    extra = {"attachments": [{"name": "a.pdf\u2028x", "sha256": "ab", "data": b"%PDF"}]}
    message = Outgoing(1, "k", "s", 1, "st", "c", "email", "a@b", "S", "B", "t", extra)
    assert json.loads(message.json_text())["attachments"] == [
        {"name": "a.pdf\u2028x", "sha256": "ab"}
    ]
    assert message.json_text() == reference(message)


def test_an_outbox_of_hostile_text_has_one_line_per_message_and_its_keys_are_found(
    tmp_path: Path,
) -> None:
    hostile = "a\u2028b\u2029c\x85d\x1ce\x0bf\x0cg\rh\ni"
    messages = [
        Outgoing(n, f"{n}:1:{hostile}", "s", 1, "st", hostile, "email", hostile, hostile,
                 hostile, "t", {"from": {"name": hostile, "email": "a@b.test"}})
        for n in (1, 2)
    ]  # fmt: skip
    channel = FileChannel(tmp_path / "outbox.jsonl")

    assert all(d.ok for d in send_all(channel, messages))

    text = (tmp_path / "outbox.jsonl").read_text("utf-8")
    lines = text.splitlines()
    assert len(lines) == 2
    assert [json.loads(line)["subject"] for line in lines] == [hostile, hostile]
    keys = {m.idempotency_key for m in messages}
    assert channel.delivered(keys | {"3:1:other"}) == keys
