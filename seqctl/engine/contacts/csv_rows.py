"""The rows of a CSV contact file: a header naming the columns, then one contact a row.

`key`, `email`, `phone` and `timezone` columns (in any case) route; every other named column is an
attribute. Short rows are padded, cells past the header refused unless empty.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from seqctl.engine.contacts.lines import Lines
from seqctl.engine.contacts.rows import ROUTING, ParsedRow, Refusal, checked_row, not_utf8
from seqctl.errors import InputError


def read_csv(lines: Iterator[str], checked: Lines, name: str) -> Iterator[ParsedRow]:
    """Each row after the header as a contact or a refusal; blank rows are skipped.

    `checked` knows the unusable lines (a byte that is not UTF-8, ...): a row on one is refused.
    """
    reader = csv.reader(lines, strict=True)
    header: list[str] = []
    try:
        while not header:  # leading blank lines
            header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise InputError(f"{name}:{reader.line_num}: unreadable CSV header: {_why(exc)}") from None
    except UnicodeDecodeError as exc:  # a source decoded strictly, not through open_source
        raise not_utf8(name, reader.line_num + 1, exc) from None
    problem = checked.problem_in(1, reader.line_num)
    if problem is not None:
        raise InputError(f"{name}:{reader.line_num}: the header is unusable: {problem}")
    width = len(header)
    index, attributes, unnamed = _columns(header, name, reader.line_num)
    # Cells are padded to width + 1: a missing routing column points at the last, always empty.
    ki, ei, pi, ti = (index.get(field, width) for field in ROUTING)
    problems = checked.problems
    end = reader.line_num
    big = checked.big_characters
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line_num
            yield Refusal(start, _why(exc))
            continue
        except UnicodeDecodeError as exc:
            raise not_utf8(name, reader.line_num + 1, exc) from None
        end = reader.line_num
        if problems and (problem := checked.problem_in(start, end)) is not None:
            yield Refusal(start, problem)
            continue
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
        size, big = checked.big_characters - big, checked.big_characters
        yield checked_row(start, key, email, cells[pi].strip(), cells[ti].strip(), fields, size)


def _why(exc: csv.Error) -> str:
    """A csv module error in a user's words."""
    text = str(exc)
    if text.startswith("field larger than field limit"):
        return f"a cell longer than {csv.field_size_limit():,} characters"
    return f"broken CSV quoting: {text}"


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
