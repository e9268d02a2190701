"""Reading contact files and importing them in batches: what a user importing a list notices."""

from __future__ import annotations

import gc
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seqctl.engine import contacts
from seqctl.engine.contacts import Parsed, Refusal, import_contacts, read_contacts
from seqctl.engine.run.bulk import collector_paused
from seqctl.errors import InputError
from seqctl.store import ContactRow, Store, open_store
from seqctl.timeutil import from_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store(":memory:") as opened:
        yield opened


def read(text: str, kind: str | None = None) -> list[Parsed | Refusal]:
    return list(read_contacts(io.StringIO(text), name="f", kind=kind))


def refusals(text: str, kind: str | None = None) -> list[tuple[int, str]]:
    return [(r.row, r.reason) for r in read(text, kind) if isinstance(r, Refusal)]


def test_csv_rows_are_numbered_by_file_line_header_being_line_one() -> None:
    parsed = read('email,first_name\n\nana@acme.test,Ana\n"bo@acme.test","Bo\nB."\ncy@x\n')
    assert [(p.row, type(p).__name__) for p in parsed] == [
        (3, "Parsed"),
        (4, "Parsed"),
        (6, "Refusal"),
    ]
    assert parsed[0] == Parsed(
        3, ContactRow("ana@acme.test", "ana@acme.test", None, None, {"first_name": "Ana"})
    )


def test_key_falls_back_to_the_email_lowercased_and_values_are_stripped() -> None:
    (row,) = read("Email , Company\n  Ana@Acme.TEST ,  Acme  \n")
    assert isinstance(row, Parsed)
    assert row.contact == ContactRow(
        "ana@acme.test", "Ana@Acme.TEST", None, None, {"Company": "Acme"}
    )


def test_blank_cells_and_json_nulls_are_missing_not_empty() -> None:
    (csv_row,) = read("key,first_name,phone\nk1,  ,\n")
    (json_row,) = read('{"key": "k1", "first_name": "", "a": null, "o": {"x": null}, "n": 0}\n')
    assert isinstance(csv_row, Parsed) and isinstance(json_row, Parsed)
    assert csv_row.contact == ContactRow("k1", None, None, None, {})
    assert json_row.contact.attributes == {"n": 0}


def test_bad_rows_are_refused_with_reasons_naming_the_value() -> None:
    text = (
        "key,email,phone,timezone,plan\n"
        ",,,,pro\n"
        "k2,bob@,,,\n"
        "k3,,+1 555 CALL,,\n"
        "k4,,,Mars/Base,\n"
        "k5,,,america/new_york,\n"
        "k6,,,,pro,extra\n"
        "k7,,,,pro,,\n"
        'k8,"unclosed,,,\n'
    )
    assert refusals(text) == [
        (2, "no key and no email"),
        (3, "invalid email 'bob@'"),
        (4, "invalid phone '+1 555 CALL': it has letters"),
        (5, "unknown time zone 'Mars/Base'"),
        (6, "unknown time zone 'america/new_york' (did you mean 'America/New_York'?)"),
        (7, "6 cells but the header has 5 columns (extra value 'extra')"),
        (9, "broken CSV quoting: unexpected end of data"),
    ]


def test_jsonl_refusals() -> None:
    text = '{"key": "a"}\n{"key": \n[1]\n\n{"email": 5}\n{"key": true}\n{"plan": "x"}\n'
    assert refusals(text, "jsonl") == [
        (2, "invalid JSON: Expecting value (column 9)"),
        (3, "not a JSON object but an array"),
        (5, "email must be text, not a number"),
        (6, "key must be text, not a boolean"),
        (7, "no key and no email"),
    ]


def test_jsonl_lines_with_spaces_around_or_text_after_the_object() -> None:
    text = '  {"key": "a"} \t\r\n{"key": "b"} x\n{"key": "c"}{"key": "d"}\n{"key": "\\u00e9"}\n'
    rows = read(text, "jsonl")
    assert [(r.row, r.contact.key) for r in rows if isinstance(r, Parsed)] == [(1, "a"), (4, "é")]
    assert refusals(text, "jsonl") == [
        (2, "invalid JSON: Extra data (column 14)"),
        (3, "invalid JSON: Extra data (column 13)"),
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("key,email,Email\n", "f:1: column 'email' appears twice (columns 2 and 3)"),
        ("name,company\n", "f:1: no 'key' or 'email' column; the columns are: 'name', 'company'"),
    ],
)
def test_a_header_that_makes_the_file_unusable_is_an_input_error(header: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read(header + "a,b,c\n")
    assert str(caught.value) == message


def test_format_by_suffix_and_sniffing() -> None:
    assert contacts.format_of("a.CSV") is contacts.Format.CSV
    assert contacts.format_of("a.ndjson") is contacts.Format.JSONL
    assert contacts.format_of("-") is None
    (row,) = read('\n  {"key": "k", "tags": ["a"]}\n')
    assert isinstance(row, Parsed) and row.row == 2 and row.contact.attributes == {"tags": ["a"]}
    with pytest.raises(InputError, match="JSON Lines"):
        read('[{"key": "k"}]')


def test_import_counts_new_and_updated_across_batches(store: Store) -> None:
    lines = "".join(f"k{i},k{i}@acme.test\n" for i in range(7))
    first = import_contacts(store, read("key,email\n" + lines + "k0,\n"), now=NOW, batch_size=3)
    # k0 again with no email: nothing of it changes (an empty value never erases one).
    assert (first.created, first.updated, first.unchanged, first.refused) == (7, 0, 1, [])
    seen: list[int] = []
    again = read("key,email\n" + lines + ",bad\n")
    report = import_contacts(store, again, now=NOW, batch_size=3, progress=seen.append)
    assert report.as_json() == {
        "imported": 7,
        "created": 0,
        "updated": 0,
        "unchanged": 7,  # the same rows again: nothing written
        "refused": [{"row": 9, "reason": "invalid email 'bad'"}],
        "enrolled": {},
    }
    assert seen == [3, 6, 8]
    assert store.count_contacts() == 7


def test_a_batch_that_fails_writes_nothing(store: Store) -> None:
    def rows() -> Iterator[Parsed | Refusal]:
        yield from read("key\na\nb\nc\n")
        raise InputError("f:5: not UTF-8 text")

    with pytest.raises(InputError):
        import_contacts(store, rows(), now=NOW, batch_size=2)
    assert [c.key for c in store.contacts()] == ["a", "b"]


def test_the_hook_gets_each_batch_with_exactly_its_new_keys(tmp_path: Path) -> None:
    seen: list[tuple[list[str], set[str]]] = []
    with open_store(tmp_path / "seqctl.db") as on_file:
        import_contacts(on_file, read("key\nold1\nold2\n"), now=NOW)
        report = import_contacts(
            on_file,
            read("key,city\nnew1,Lima\nold1,Rome\nnew2,\nnew1,Oslo\nold2,\nnew3,\n"),
            now=NOW,
            batch_size=4,
            after_batch=lambda batch, new: seen.append(([c.key for c in batch], new)),
        )
        # new1 twice: created, then updated; old1 gets a city; old2 with none is unchanged.
        assert (report.created, report.updated, report.unchanged) == (3, 2, 1)
        assert seen == [
            (["new1", "old1", "new2", "new1"], {"new1", "new2"}),
            (["old2", "new3"], {"new3"}),
        ]
        assert on_file.contact("new1").attributes == {"city": "Oslo"}  # type: ignore[union-attr]


def test_attributes_are_stored_as_compact_json_with_text_as_written(tmp_path: Path) -> None:
    attributes = {"name": 'Zoë "Z" Ångström', "crm": {"score": 1.5, "tags": ["a", None]}}
    row = ContactRow("k", None, None, None, attributes)
    with open_store(tmp_path / "seqctl.db") as on_file, on_file.transaction():
        assert on_file.upsert_contacts([row], from_db("2026-11-23T12:00:00Z")) == (1, 0)
        stored = on_file.contact("k")
    assert stored is not None
    compact = json.dumps(attributes, ensure_ascii=False, separators=(",", ":"))
    assert stored.attributes_json == compact


def test_the_collector_is_paused_for_bulk_work_and_restored_after() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested: still paused, and not turned back on inside
            pass
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
