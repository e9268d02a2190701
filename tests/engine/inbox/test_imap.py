"""The small parts of the IMAP client that speak the protocol's syntax."""

from __future__ import annotations

from typing import Any

import pytest

from seqctl.engine.inbox.imap import (
    Fetched,
    ImapError,
    ImapSession,
    parse_fetch,
    quote,
    uid_set,
)
from seqctl.engine.inbox.settings import InboxSettings, Security


@pytest.mark.parametrize(
    ("uids", "text"),
    [
        ([7], "7"),
        ([1, 2, 3, 7], "1:3,7"),
        ([9, 1, 2, 5, 6, 4], "1:2,4:6,9"),
    ],
)
def test_uid_sets_are_short(uids: list[int], text: str) -> None:
    assert uid_set(uids) == text


@pytest.mark.parametrize(
    ("folder", "quoted"),
    [
        ("INBOX", '"INBOX"'),
        ("Sent Items", '"Sent Items"'),
        ('A "quoted" \\ name', '"A \\"quoted\\" \\\\ name"'),
        ("Entwürfe", '"Entw&APw-rfe"'),  # modified UTF-7, RFC 3501 5.1.3
        ("R&D", '"R&-D"'),
        ("日本語", '"&ZeVnLIqe-"'),
    ],
)
def test_folder_names_are_quoted_and_encoded(folder: str, quoted: str) -> None:
    assert quote(folder) == quoted


def test_fetch_answers_with_the_size_before_or_after_the_body() -> None:
    data: list[Any] = [
        (b"1 (UID 10 RFC822.SIZE 300 BODY[]<0> {5}", b"hello"),
        b")",
        (b"2 (UID 11 BODY[]<0> {3}", b"abc"),
        b" RFC822.SIZE 3)",
        b"3 (UID 12 FLAGS (\\Seen))",  # an unsolicited flag change: no message
        (b"4 (RFC822.SIZE 9 UID 14 BODY[]<0> {2}", b"xy"),
        b")",
    ]

    found = parse_fetch(data)

    assert found == [
        Fetched(10, 300, b"hello"),
        Fetched(11, 3, b"abc"),
        Fetched(14, 9, b"xy"),
    ]
    assert [f.truncated for f in found] == [True, False, True]


def test_a_server_that_cannot_be_reached_is_said_plainly() -> None:
    settings = InboxSettings("ana", "127.0.0.1", 1, Security.NONE, "U", "P", timeout=2)

    with pytest.raises(ImapError) as caught:
        ImapSession(settings, "ana", "pw")

    assert str(caught.value).startswith("cannot connect to 127.0.0.1:1: ")
