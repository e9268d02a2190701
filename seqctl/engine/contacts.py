"""Contacts from CSV or JSON Lines: read row by row, refuse bad rows, upsert by key in batches.

Row numbers are file line numbers, 1-based: in a CSV the header is line 1, so the first contact is
row 2 (a quoted cell spanning lines counts every line; a row is numbered by its first line); in
JSON Lines each line is one row. Reading streams, so memory does not grow with the file.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import IO, Any, NamedTuple, TypeAlias
from zoneinfo import available_timezones

from seqctl.engine.bulk import collector_paused
from seqctl.errors import InputError, NotFound
from seqctl.store import ContactRecord, ContactRow, Store
from seqctl.timeutil import format_instant, is_valid_zone

BATCH_SIZE = 10_000  # rows; as fast as 20,000 and half the memory with wide rows
ROUTING = ("key", "email", "phone", "timezone")
STDIN_NAME = "<stdin>"

# One @, a dot in the domain, no spaces: a sanity check, not RFC 5322.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_LETTER = re.compile(r"[^\W\d_]")


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


SUFFIXES = {".csv": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}


class Parsed(NamedTuple):
    """A good row: the contact read from line `row`."""

    row: int
    contact: ContactRow


class Refusal(NamedTuple):
    """A bad row: its line number and why it was not imported."""

    row: int
    reason: str


ParsedRow: TypeAlias = Parsed | Refusal


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    refused: list[Refusal]
    enrolled: dict[str, int] = field(default_factory=dict)  # automatic enrollments per sequence

    @property
    def imported(self) -> int:
        return self.created + self.updated

    def as_json(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "created": self.created,
            "updated": self.updated,
            "refused": [{"row": r.row, "reason": r.reason} for r in self.refused],
            "enrolled": dict(self.enrolled),
        }


def format_of(path: str) -> Format | None:
    """The format a file's suffix names; None for standard input or another suffix (sniffed)."""
    return None if path == "-" else SUFFIXES.get(Path(path).suffix.lower())


@contextmanager
def open_source(path: str, stdin: IO[bytes] | None = None) -> Iterator[IO[str]]:
    """The file at path, or standard input for '-', as UTF-8 text (a byte-order mark is skipped)."""
    if path == "-":
        stream = io.TextIOWrapper(stdin or sys.stdin.buffer, encoding="utf-8-sig", newline="")
        try:
            yield stream
        finally:
            stream.detach()  # standard input is not ours to close
        return
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    with handle:
        yield handle


def read_contacts(
    source: Iterable[str], *, name: str, kind: Format | str | None = None
) -> Iterator[ParsedRow]:
    """Each row of a CSV or JSON Lines source as a contact or a refusal, in file order.

    `kind` None sniffs: a first non-blank character `{` means JSON Lines, anything else CSV.
    InputError when the file as a whole is unusable (duplicate columns, no key or email column).
    """
    lines = iter(source)
    if kind is None:
        kind, lines = _sniff(lines, name)
    if Format(kind) is Format.CSV:
        return _read_csv(lines, name)
    return _read_jsonl(lines, name)


def import_contacts(
    store: Store,
    rows: Iterable[ParsedRow],
    *,
    now: datetime,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    after_batch: Callable[[list[ContactRow], set[str]], None] | None = None,
) -> ImportReport:
    """Upsert the good rows by key, batch by batch, each batch all or nothing; list the bad ones.

    `progress` is called after each batch with the number of rows read so far; `after_batch`
    with the batch written and the keys in it that were new (automatic enrollment uses it).
    """
    at = format_instant(now)
    assert at is not None
    created = updated = read = reported = 0
    refused: list[Refusal] = []
    batch: list[ContactRow] = []

    def write() -> None:
        nonlocal created, updated
        new: list[str] | None = [] if after_batch is not None else None
        count = _write_batch(store, batch, at, new)
        created, updated = created + count, updated + len(batch) - count
        if after_batch is not None:
            after_batch(batch, set(new or ()))

    with collector_paused():
        for item in rows:
            read += 1
            if isinstance(item, Refusal):
                refused.append(item)
                continue
            batch.append(item.contact)
            if len(batch) >= batch_size:
                write()
                batch = []
                if progress is not None:
                    progress(reported := read)
        if batch:
            write()
    if progress is not None and read != reported:
        progress(read)
    return ImportReport(created, updated, refused)


def contact(store: Store, key: str) -> ContactRecord:
    found = store.contact(key)
    if found is None:
        raise NotFound(f"no contact '{key}'")
    return found


def details(record: ContactRecord) -> dict[str, Any]:
    """A contact as `contacts show --json` prints it."""
    return {
        "key": record.key,
        "email": record.email,
        "phone": record.phone,
        "timezone": record.timezone,
        "attributes": record.attributes,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _write_batch(store: Store, batch: list[ContactRow], at: str, new: list[str] | None) -> int:
    """Upsert one batch in one transaction; how many were new (their keys added to `new`)."""
    with store.transaction():
        return store.upsert_contacts(batch, at, new_keys=new)


def _sniff(lines: Iterator[str], name: str) -> tuple[Format, Iterator[str]]:
    seen: list[str] = []
    kind = Format.CSV
    try:
        for line in lines:
            seen.append(line)
            text = line.lstrip("\ufeff \t\r\n")
            if text:
                if text[0] == "[":
                    raise InputError(
                        f"{name}: a JSON array; seqctl reads JSON Lines, one object a line"
                    )
                kind = Format.JSONL if text[0] == "{" else Format.CSV
                break
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, len(seen) + 1, exc) from None
    return kind, chain(seen, lines)


def _read_csv(lines: Iterator[str], name: str) -> Iterator[ParsedRow]:
    reader = csv.reader(lines, strict=True)
    header: list[str] = []
    try:
        while not header:  # leading blank lines
            header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:{reader.line_num}: unreadable CSV header: {exc}") from None
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, reader.line_num + 1, exc) from None
    width = len(header)
    index, attributes, unnamed = _columns(header, name, reader.line_num)
    # Cells are padded to width + 1: a missing routing column points at the last, always empty.
    ki, ei, pi, ti = (index.get(field, width) for field in ROUTING)
    end = reader.line_num
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield Refusal(start, f"broken CSV quoting: {exc}")
            continue
        except UnicodeDecodeError as exc:
            raise _not_utf8(name, reader.line_num + 1, exc) from None
        end = reader.line_num
        count = len(cells)
        if count > width:
            extra = [c.strip() for c in cells[width:] if c.strip()]
            if extra:
                yield Refusal(
                    start,
                    f"{count} cells but the header has {width} columns (extra value {extra[0]!r})",
                )
                continue
            del cells[width:]
        elif count < width:
            cells.extend([""] * (width - count))
        cells.append("")
        if unnamed:
            stray = next((i for i in unnamed if cells[i].strip()), None)
            if stray is not None:
                yield Refusal(start, f"value {cells[stray].strip()!r} in a column with no name")
                continue
        fields = {column: v for i, column in attributes if (v := cells[i].strip())}
        key, email = cells[ki].strip(), cells[ei].strip()
        if not (key or email or fields or cells[pi].strip() or cells[ti].strip()):
            continue  # a blank line, or a row of empty cells as spreadsheets export
        yield _contact(start, key, email, cells[pi].strip(), cells[ti].strip(), fields)


def _columns(
    header: list[str], name: str, line: int
) -> tuple[dict[str, int], list[tuple[int, str]], list[int]]:
    """Where each routing column is; the attribute columns; the columns with no name."""
    index: dict[str, int] = {}
    attributes: list[tuple[int, str]] = []
    unnamed: list[int] = []
    for i, raw in enumerate(header):
        column = raw.strip().lstrip("\ufeff").strip()
        if column.lower() in ROUTING:
            column = column.lower()  # spreadsheets say "Email"
        if not column:
            unnamed.append(i)
            continue
        if column in index:
            raise InputError(
                f"{name}:{line}: column '{column}' appears twice "
                f"(columns {index[column] + 1} and {i + 1})"
            )
        index[column] = i
        if column not in ROUTING:
            attributes.append((i, column))
    if "key" not in index and "email" not in index:
        raise InputError(
            f"{name}:{line}: no 'key' or 'email' column; the columns are: "
            + ", ".join(repr(c) for c in index)
        )
    return index, attributes, unnamed


def _read_jsonl(lines: Iterator[str], name: str) -> Iterator[ParsedRow]:
    row = 0
    try:
        for row, line in enumerate(lines, 1):
            if not line or line.isspace():
                continue
            try:
                data = _decode(line.rstrip("\r\n"))  # so columns count on this line
            except json.JSONDecodeError as exc:
                yield Refusal(row, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            if not isinstance(data, dict):
                yield Refusal(row, f"not a JSON object but {_json_type(data)}")
                continue
            try:
                key = _text(data.pop("key", None), "key", numbers=True)
                email = _text(data.pop("email", None), "email")
                phone = _text(data.pop("phone", None), "phone", numbers=True)
                timezone = _text(data.pop("timezone", None), "timezone")
            except _WrongType as exc:
                yield Refusal(row, str(exc))
                continue
            yield _contact(row, key, email, phone, timezone, _pruned(data))
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, row + 1, exc) from None


def _decode(text: str) -> Any:
    """json.loads, a third faster for the usual line: one value, nothing around it.

    Anything else (spaces around, a byte-order mark, broken JSON) goes through json.loads
    itself, for the same value or the same error.
    """
    try:
        data, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        return json.loads(text)
    return data if end == len(text) else json.loads(text)


_DECODER = json.JSONDecoder()


def _contact(
    row: int, key: str, email: str, phone: str, timezone: str, attributes: dict[str, Any]
) -> ParsedRow:
    """Check the routing fields of one row; the key falls back to the email, lowercased."""
    if email and not _EMAIL.fullmatch(email):
        return Refusal(row, f"invalid email {email!r}")
    if not key:
        if not email:
            return Refusal(row, "no key and no email")
        key = email.lower()
    if phone and _LETTER.search(phone):
        return Refusal(row, f"invalid phone {phone!r}: it has letters")
    if timezone:
        problem = _zone_problem(timezone)
        if problem is not None:
            return Refusal(row, problem)
    return Parsed(row, ContactRow(key, email or None, phone or None, timezone or None, attributes))


@lru_cache(maxsize=4096)
def _zone_problem(name: str) -> str | None:
    """None for a valid IANA zone; else why not. Cached: files repeat a handful of zones."""
    if is_valid_zone(name):
        return None
    known = _zone_names()
    by_case = {z.lower(): z for z in known}
    guess = by_case.get(name.lower()) or next(
        iter(difflib.get_close_matches(name, known, n=1, cutoff=0.7)), None
    )
    hint = f" (did you mean '{guess}'?)" if guess else ""
    return f"unknown time zone {name!r}{hint}"


@lru_cache(maxsize=1)
def _zone_names() -> list[str]:
    return sorted(available_timezones())


class _WrongType(Exception):
    pass


def _text(value: Any, field: str, *, numbers: bool = False) -> str:
    """A routing field from JSON: text (stripped), a whole number where allowed, or missing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise _WrongType(f"{field} must be text, not {_json_type(value)}")


def _pruned(data: dict[str, Any]) -> dict[str, Any]:
    """Drop nulls and empty strings, in nested objects too: missing stays missing."""
    kept: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict):
            value = _pruned(value)
            if not value:
                continue
        elif value is None or value == "":
            continue
        kept[name] = value
    return kept


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return "null"


def _not_utf8(name: str, line: int, exc: UnicodeDecodeError) -> InputError:
    return InputError(f"{name}:{line}: not UTF-8 text ({exc.reason}); save the file as UTF-8")
