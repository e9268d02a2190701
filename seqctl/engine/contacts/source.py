"""Where contacts are read from: a CSV or JSON Lines file, or standard input, and its format.

Row numbers are file line numbers, 1-based: in a CSV the header is line 1, so the first contact is
row 2 (a quoted cell spanning lines counts every line; a row is numbered by its first line); in
JSON Lines each line is one row. Reading streams, so memory does not grow with the file.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import IO

from seqctl.engine.contacts.csv_rows import read_csv
from seqctl.engine.contacts.jsonl_rows import read_jsonl
from seqctl.engine.contacts.lines import Lines
from seqctl.engine.contacts.rows import ParsedRow, not_utf8
from seqctl.errors import InputError

STDIN_NAME = "<stdin>"


class Format(StrEnum):
    CSV = "csv"
    JSONL = "jsonl"


_ERRORS = "surrogateescape"
SUFFIXES = {".csv": Format.CSV, ".jsonl": Format.JSONL, ".ndjson": Format.JSONL}


def format_of(path: str) -> Format | None:
    """The format a file's suffix names; None for standard input or another suffix (sniffed)."""
    return None if path == "-" else SUFFIXES.get(Path(path).suffix.lower())


@contextmanager
def open_source(path: str, stdin: IO[bytes] | None = None) -> Iterator[IO[str]]:
    """The file at path, or standard input for '-', as UTF-8 text (a byte-order mark is skipped).

    A byte that is not UTF-8 is kept as an escape (surrogateescape) so that it spoils only its
    own line: read the text through `Lines`, which finds such lines.
    """
    if path == "-":
        stream = io.TextIOWrapper(
            stdin or sys.stdin.buffer, encoding="utf-8-sig", errors=_ERRORS, newline=""
        )
        try:
            yield stream
        finally:
            stream.detach()  # standard input is not ours to close
        return
    try:
        handle = open(path, encoding="utf-8-sig", errors=_ERRORS, newline="")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    with handle:
        yield handle


def read_contacts(
    source: Iterable[str],
    *,
    name: str,
    kind: Format | str | None = None,
    checked: Lines | None = None,
) -> Iterator[ParsedRow]:
    """Each row of a CSV or JSON Lines source as a contact or a refusal, in file order.

    `kind` None sniffs: a first non-blank character `{` means JSON Lines, anything else CSV.
    `checked`: the Lines that source comes from, when the caller reads through one already.
    InputError when the file as a whole is unusable (duplicate columns, no key or email column).
    """
    if checked is None:
        checked = Lines(source)
        source = checked
    lines = iter(source)
    if kind is None:
        kind, lines = _sniff(lines, name)
    if Format(kind) is Format.CSV:
        return read_csv(lines, checked, name)
    return read_jsonl(lines, checked, name)


def sniff_keys(path: str, lines: Iterator[str]) -> tuple[Format | None, Iterator[str]]:
    """What a file of contacts to act on holds (`enroll --file`, `remove --file`): by its
    suffix, else by its first non-blank line: `{` JSON Lines, a comma CSV, else None (one
    contact key a line). The lines come back whole, blank ones kept (rows keep their numbers).
    """
    head: list[str] = []
    for line in lines:
        head.append(line)
        if line.strip():
            break
    first = head[-1].lstrip("\ufeff \t") if head else ""
    kind = format_of(path)
    if kind is None and (first.startswith("{") or "," in first):
        kind = Format.JSONL if first.startswith("{") else Format.CSV
    return kind, chain(head, lines)


def plain_keys(lines: Iterable[str], checked: Lines) -> Iterator[str | tuple[int, str]]:
    """The keys of a file of keys, one a line; an unusable line as (its number, why)."""
    problems = checked.problems
    for number, line in enumerate(lines, 1):
        if problems and number in problems:
            yield number, problems[number]
        elif key := line.strip().lstrip("\ufeff"):
            yield key


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
        raise not_utf8(name, len(seen) + 1, exc) from None
    return kind, chain(seen, lines)
