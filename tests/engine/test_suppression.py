"""Opt-outs follow the address: how addresses compare, what a STOP is, and the old entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from seqctl.engine.incoming.addresses import Kind, classify, is_stop, normal_email, normal_phone
from seqctl.store import open_store
from seqctl.store.sqlite.migrations import migrations


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("  Ana@Example.COM ", "ana@example.com"),
        ("Ana Souza <ANA@example.com>", "ana@example.com"),
        # Gmail-style dots and +tags are not folded: different entries.
        ("ana.b+news@gmail.com", "ana.b+news@gmail.com"),
    ],
)
def test_email_addresses_compare_trimmed_and_case_insensitive(given: str, expected: str) -> None:
    assert normal_email(given) == expected


@pytest.mark.parametrize(
    ("given", "country", "expected"),
    [
        ("+55 (11) 98765-4321", None, "+5511987654321"),
        ("0055 11 98765 4321", None, "+5511987654321"),
        ("(11) 98765-4321", "BR", "+5511987654321"),
        ("(11) 98765-4321", "br ", "+5511987654321"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("(11) 98765-4321", None, "11987654321"),  # no country: kept as its digits
        ("12", "BR", "12"),  # not a possible number in Brazil: its digits
        ("98765", "XX", "98765"),  # not a country
    ],
)
def test_phone_numbers_become_e164_when_their_country_is_known(
    given: str, country: str | None, expected: str
) -> None:
    assert normal_phone(given, country) == expected


@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Stop. ", "STOP ALL", "Opt-Out", "unsubscribe!", "PARAR", "Sáir"]
)
def test_stop_words_alone_are_opt_outs(text: str) -> None:
    assert is_stop(text)


@pytest.mark.parametrize("text", ["stop calling at dinner", "Don't stop", "ok", ""])
def test_other_messages_are_not(text: str) -> None:
    assert not is_stop(text)


def test_what_a_person_names_is_classified() -> None:
    assert classify("@Rival.test") == ("@rival.test", Kind.DOMAIN)
    assert classify("Bob@Rival.test") == ("bob@rival.test", Kind.EMAIL)
    assert classify("+1 (415) 555-0100") == ("+14155550100", Kind.PHONE)
    assert classify("lead-1042") is None  # a contact key


def test_old_entries_by_contact_key_become_the_contacts_addresses(tmp_path: Path) -> None:
    """A database from before: the unsubscribe of 'ann' was listed by her key."""
    path = tmp_path / "old.db"
    db = Database(path)
    migrations.apply(db, stop_before="m012_address_suppressions")
    at = "2026-11-20T10:00:00Z"
    db.execute(
        "INSERT INTO contacts (key, email, phone, created_at, updated_at) VALUES"
        " ('ann', ' Ann@Example.com', '+55 11 98765-4321', ?, ?),"
        " ('ghost', NULL, NULL, ?, ?)",
        [at, at, at, at],
    )
    for value, kind in [
        ("ann", "contact"),
        ("ghost", "contact"),
        ("Bob@Example.com ", "email"),
        ("0044 20 7946 0958", "phone"),
    ]:
        db.execute(
            "INSERT INTO suppressions (value, kind, reason, at) VALUES (?, ?, 'unsubscribed', ?)",
            [value, kind, at],
        )
    db.close()

    with open_store(path) as store:
        entries = {(e.value, e.kind, e.reason) for e in store.suppressions()}
        history = store.suppression_history()
    assert entries == {
        ("ann@example.com", "email", "unsubscribed (contact ann)"),
        ("+5511987654321", "phone", "unsubscribed (contact ann)"),
        ("ghost", "contact", "unsubscribed"),  # no address to move it to: kept by key
        ("bob@example.com", "email", "unsubscribed"),
        ("+442079460958", "phone", "unsubscribed"),
    }
    assert {(c.value, c.change) for c in history} == {(v, "added") for v, _, _ in entries}
