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
