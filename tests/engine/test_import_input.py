"""Hostile and broken import files: each bad row refused by its own line with a reason, the
good rows in, and nothing stored that cannot be printed back as valid JSON."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from seqctl.engine.contacts import (
    MAX_LINE,
    Lines,
    Parsed,
    Refusal,
    import_contacts,
    importing,
    read_contacts,
)
from seqctl.engine.contacts.strict_json import MAX_DEPTH
from seqctl.engine.incoming.receiver import receive_events
from seqctl.errors import InputError
from seqctl.store import open_store
from tests.conftest import Launch, Run, Write
from tests.playbooks import HELLO, auto_playbook

NOW = "--now=2026-11-23T08:00:00Z"
NOT_UTF8 = "not UTF-8 text (byte 0xff at column {}); save the file as UTF-8"


def read(data: bytes | str, kind: str | None = None) -> list[Parsed | Refusal]:
    """The rows of a file's bytes, decoded as `contacts import` decodes them."""
    raw = data if isinstance(data, bytes) else data.encode()
    text = io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8-sig", errors="surrogateescape")
    return list(read_contacts(text, name="f", kind=kind))


def outcome(data: bytes | str, kind: str | None = None) -> list[tuple[int, str]]:
    """(line, key) for each good row, (line, reason) for each refusal, in file order."""
    return [
        (r.row, r.contact.key) if isinstance(r, Parsed) else (r.row, r.reason)
        for r in read(data, kind)
    ]


def strict_json(text: str) -> Any:
    """json.loads that refuses what is not JSON (NaN, Infinity), as a consumer's parser does."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def nested(depth: int) -> str:
    """An object nested `depth` levels deep, the row itself being the first."""
    return '{"key": "deep", "x": ' + '{"y": ' * (depth - 1) + "1" + "}" * (depth - 1) + "}"


def test_jsonl_nested_100000_levels_deep_is_refused_alone() -> None:
    bomb = '{"key": "b", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    text = f'{{"key": "a"}}\n{bomb}\n{{"key": "c"}}\n'
    assert outcome(text) == [(1, "a"), (2, "nested deeper than 32 levels"), (3, "c")]


def test_nesting_is_kept_up_to_the_limit() -> None:
    text = f"{nested(MAX_DEPTH)}\n{nested(MAX_DEPTH + 1)}\n"
    assert outcome(text) == [(1, "deep"), (2, f"nested deeper than {MAX_DEPTH} levels")]


def test_nan_infinity_and_numbers_too_large_for_a_float_are_refused() -> None:
    text = (
        '{"key": "a", "score": NaN}\n'
        '{"key": "b", "score": Infinity}\n'
        '{"key": "c", "crm": {"score": -Infinity}}\n'
        '{"key": "d", "score": 1e400}\n'
        '{"key": "e", "score": -1.5e308, "big": 123456789012345678901234567890}\n'
        '{"key": "f", "score": ' + "9" * 5000 + "}\n"
    )
    assert outcome(text) == [
        (1, "NaN is not a number JSON allows; leave the field out instead"),
        (2, "Infinity is not a number JSON allows; leave the field out instead"),
        (3, "-Infinity is not a number JSON allows; leave the field out instead"),
        (4, "number 1e400 is too large"),
        (5, "e"),
        (6, "a number with too many digits"),
    ]


def test_a_contact_stays_printable_as_json_and_later_imports_go_on(run: Run) -> None:
    first = run(NOW, "contacts", "import", "-", input='{"key": "ann", "score": 1}\n')
    assert first.exit_code == 0
    second = run(
        NOW,
        "contacts",
        "import",
        "-",
        "--json",
        input='{"key": "ann", "score": NaN}\n{"key": "ann", "plan": "pro"}\n',
    )
    assert second.exit_code == 1
    assert second.json["refused"] == [
        {"row": 1, "reason": "NaN is not a number JSON allows; leave the field out instead"}
    ]
    shown = run("contacts", "show", "ann", "--json")
    assert strict_json(shown.stdout)["attributes"] == {"score": 1, "plan": "pro"}


def test_a_bad_byte_refuses_its_own_line_and_no_other() -> None:
    jsonl = b'{"key": "a"}\n{"key": "b"}\n{"key": "c\xff"}\n{"key": "d"}\n'
    assert outcome(jsonl, "jsonl") == [(1, "a"), (2, "b"), (3, NOT_UTF8.format(11)), (4, "d")]
    csv = b"key,email\na,a@example.com\nb\xff,b@example.com\nc,c@example.com\n"
    assert outcome(csv, "csv") == [(2, "a"), (3, NOT_UTF8.format(2)), (4, "c")]


def test_a_bad_byte_inside_a_cell_spanning_lines_refuses_that_row_by_its_first_line() -> None:
    csv = b'key,notes\na,"one\ntwo \xff\nthree"\nb,fine\n'
    assert outcome(csv, "csv") == [(2, NOT_UTF8.format(5)), (5, "b")]


def test_a_bad_byte_in_the_csv_header_makes_the_file_unusable() -> None:
    with pytest.raises(InputError) as caught:
        read(b"key,na\xffme\na,b\n", "csv")
    assert str(caught.value) == "f:1: the header is unusable: " + NOT_UTF8.format(7)


def test_nul_characters_raw_or_escaped_and_half_surrogate_pairs_are_refused() -> None:
    text = (
        '{"key": "a", "x": "1\x002"}\n'
        '{"key": "b", "x": "1\\u00002"}\n'
        '{"key": "c", "x": ["\\ud800"]}\n'
        '{"key": "d", "x": "\\ud83d\\ude00 \\\\u0000"}\n'
    )
    assert outcome(text) == [
        (1, "a NUL character at column 21 (a UTF-16 or binary file?); save the file as UTF-8 text"),
        (2, "a NUL character (\\u0000) in a value"),
        (3, "half of a surrogate pair (an escape such as \\ud800 alone) in a value"),
        (4, "d"),  # a whole pair is one character; an escaped backslash is not an escape
    ]
    (row,) = [r for r in read(text) if isinstance(r, Parsed)]
    assert row.contact.attributes == {"x": "\U0001f600 \\u0000"}
    csv = "key,email\na\x00,a@example.com\nb,b@example.com\n"
    assert outcome(csv)[0][1].startswith("a NUL character at column 2")


def test_control_characters_in_routing_fields_are_refused() -> None:
    csv = 'key,email,phone\n"a\nb",a@example.com,\nc,c\x01@example.com,\nd,,+1\x7f555\ne,,\n'
    assert outcome(csv) == [
        (2, "key holds a control character (U+000A)"),
        (4, "invalid email 'c\\x01@example.com'"),
        (5, "phone holds a control character (U+007F)"),
        (6, "e"),
    ]


def test_a_line_longer_than_the_limit_is_skipped_a_piece_at_a_time() -> None:
    class Source(io.StringIO):
        widest = 0

        def readline(self, size: int | None = -1) -> str:
            Source.widest = max(Source.widest, size or 0)
            return super().readline(size)

    checked = Lines(Source("short\n" + "x" * 95 + "\nnext\r\n" + "y" * 30), limit=10)
    assert list(checked) == ["short\n", "\n", "next\r\n", "\n"]
    assert checked.problems == {
        2: "a line longer than 10 characters",
        4: "a line longer than 10 characters",
    }
    assert Source.widest == 12  # never more than the limit and a line ending at once
    exact = Lines(io.StringIO("x" * 10 + "\r\n" + "y" * 10), limit=10)
    assert list(exact) == ["x" * 10 + "\r\n", "y" * 10] and exact.problems == {}


def test_a_huge_line_is_refused_and_the_next_row_goes_in(run: Run, write: Write) -> None:
    path = write("c.jsonl", "")
    with path.open("w") as out:
        out.write('{"key": "a", "notes": "' + "x" * (MAX_LINE + 10) + '"}\n{"key": "b"}\n')
    result = run(NOW, "contacts", "import", "c.jsonl")
    assert result.exit_code == 1
    assert result.stderr == "c.jsonl:1: a line longer than 1,048,576 characters\n"
    assert [c["key"] for c in run("contacts", "list", "--json").json] == ["b"]


def test_a_cell_over_the_csv_limit_says_so() -> None:
    csv = "key,notes\na," + "x" * 200_000 + "\nb,short\n"
    assert outcome(csv) == [(2, "a cell longer than 131,072 characters"), (3, "b")]


def test_byte_order_marks_crlf_endings_and_empty_files(run: Run, write: Write) -> None:
    assert outcome(b'\xef\xbb\xbf{"key": "a"}\r\n{"key": "b"}\r\n') == [(1, "a"), (2, "b")]
    assert outcome(b"\xef\xbb\xbfKey,Email\r\na,a@example.com\r\n") == [(2, "a")]
    for name in ("empty.csv", "empty.jsonl", "header.csv"):
        write(name, "key,email\n" if name == "header.csv" else "")
        result = run(NOW, "contacts", "import", name)
        assert (result.exit_code, result.stdout) == (0, "imported 0 contacts (0 new, 0 updated)\n")


def test_a_folder_is_not_a_contact_file(run: Run, project: Path) -> None:
    (project / "contacts.csv").mkdir()
    result = run(NOW, "contacts", "import", "contacts.csv")
    assert (result.exit_code, result.stderr) == (
        2,
        "seqctl: contacts.csv: is a folder, not a file\n",
    )


def test_events_import_refuses_the_same_lines_by_number(
    launch: Launch, write: Write, project: Path
) -> None:
    run = launch({"hi": auto_playbook("hi", HELLO)}, "key,email\nann,ann@example.com\n")
    path = project / "events.jsonl"
    path.write_bytes(
        b'{"type": "open", "contact": "ann", "data": {"n": NaN}}\n'
        b'{"type": "open", "contact": "ann\xff"}\n'
        b'{"type": "open", "contact": "ann", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}\n"
        b'{"type": "click", "contact": "ann", "data": {"link": "\\u0000"}}\n'
        b'{"type": "reply", "contact": "ann"}\n'
    )
    result = run(NOW, "events", "import", "events.jsonl", "--json")
    assert result.exit_code == 1
    assert result.json["recorded"] == 1
    assert result.json["refused"] == [
        {
            "row": "events.jsonl:1",
            "reason": "NaN is not a number JSON allows; leave the field out instead",
        },
        {"row": "events.jsonl:2", "reason": NOT_UTF8.format(33)},
        {"row": "events.jsonl:3", "reason": "nested deeper than 32 levels"},
        {"row": "events.jsonl:4", "reason": "a NUL character (\\u0000) in a value"},
    ]
    timeline = run("timeline", "ann", "--json")
    assert strict_json(timeline.stdout) == timeline.json


def test_the_receiver_refuses_bad_json_and_answers_503_when_the_database_cannot_write(
    tmp_path: Path,
) -> None:
    at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with open_store(tmp_path / "seqctl.db") as store:
        status, reply = receive_events(
            store, b'{"type": "reply", "contact": "ann", "data": {"x": NaN}}', now=at
        )
        assert (status, reply["refused"]) == (
            400,
            [
                {
                    "row": "line:1",
                    "reason": "NaN is not a number JSON allows; leave the field out instead",
                }
            ],
        )
        store.db.execute("PRAGMA query_only=ON")  # read-only, as SQLite reports it
        status, reply = receive_events(store, b'{"type": "reply", "contact": "ann"}', now=at)
        assert status == 503 and "the database is read-only" in reply["error"]


def test_enroll_from_a_file_of_keys_refuses_an_unusable_line(launch: Launch, project: Path) -> None:
    run = launch(
        {"hi": auto_playbook("hi", HELLO)},
        "key,email\nann,ann@example.com\nbob,bob@example.com\n",
    )
    (project / "keys.txt").write_bytes(b"ann\nb\xffob\nbob\n")
    result = run(NOW, "enroll", "hi", "--file", "keys.txt", "--json")
    assert result.json == {
        "enrolled": 2,
        "already": 0,
        "refused": [{"contact": "keys.txt:2", "reason": NOT_UTF8.format(2)}],
    }


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_big_rows_make_smaller_batches(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows near the line limit are not held 10,000 at a time: a batch ends at a budget."""
    monkeypatch.setattr(importing, "BATCH_CHARACTERS", 5 * 5000)
    notes = "x" * 5000
    if kind == "jsonl":
        text = "".join(f'{{"key": "k{i}", "notes": "{notes}"}}\n' for i in range(10))
    else:
        text = "key,notes\n" + "".join(f"k{i},{notes}\n" for i in range(10)) + "small,\n"
    batches: list[int] = []
    with open_store(":memory:") as store:
        report = import_contacts(
            store,
            read(text, kind),
            now=datetime(2026, 11, 23, tzinfo=UTC),
            after_batch=lambda batch, new: batches.append(len(batch)),
        )
    assert report.created == (10 if kind == "jsonl" else 11)
    assert batches == ([5, 5] if kind == "jsonl" else [5, 5, 1])
