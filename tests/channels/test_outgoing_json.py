"""The JSON line of a message, made field by field, is exactly what encoding its dict gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from seqctl.channels import Outgoing

texts = st.text()
maybe = st.none() | st.text()
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
extras = st.dictionaries(st.sampled_from(["from", "html", "template", "url", "to", "x"]), values)


def reference(message: Outgoing) -> str:
    return json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":"))


@given(texts, texts, st.integers(), maybe, maybe, maybe, extras)
def test_json_text_matches_the_encoded_dict(
    key: str, contact: str, number: int, to: str | None, subject: str | None,
    body: str | None, extra: dict[str, Any],
) -> None:  # fmt: skip
    message = Outgoing(
        number, key, "seq", 2, "hello", contact, "email", to, subject, body,
        "2026-11-23T09:00:00Z", extra,
    )  # fmt: skip
    assert message.json_text() == reference(message)
    assert json.loads(message.json_text()) == message.as_json()


def test_attachments_are_named_not_carried() -> None:
    extra = {"attachments": [{"name": "a.pdf", "sha256": "ab", "data": b"%PDF"}]}
    message = Outgoing(1, "k", "s", 1, "st", "c", "email", "a@b", "S", "B", "t", extra)
    assert json.loads(message.json_text())["attachments"] == [{"name": "a.pdf", "sha256": "ab"}]
    assert message.json_text() == reference(message)
