"""The lines of an input file (contacts, events), each checked once as it is read.

Files are decoded with `surrogateescape`, so a byte that is not UTF-8 spoils its own line only,
not the file: the line is marked unusable and its row refused by its own number, while the
rows around it go in. So is a line holding a NUL character (a UTF-16 or binary file, or a
damaged one), and a line longer than `MAX_LINE` characters, which is skipped without ever
being held in memory whole. Readers look their rows' line numbers up in `Lines.problems`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

MAX_LINE = 1 << 20  # characters: a megabyte of contact is far past any real one
BIG_LINE = 1 << 12  # characters: lines longer than this are counted in `big_characters`


class Lines:
    """The checked lines of a source, read once: iterating again goes on where it stopped.

    An unusable line is still one line (replaced by an empty one when too long), so that
    line numbers stay those of the file.
    """

    def __init__(self, source: Iterable[str], *, limit: int = MAX_LINE) -> None:
        self.problems: dict[int, str] = {}  # line number (1-based) -> why it is unusable
        # Characters read in lines over BIG_LINE: a reader tells its big rows by this growing,
        # so that an import cuts a batch of big rows short (10,000 rows of a megabyte each
        # would be held at once otherwise). The usual line costs nothing more.
        self.big_characters = 0
        self._lines = self._read(source, limit)

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def _read(self, source: Iterable[str], limit: int) -> Iterator[str]:
        problems = self.problems
        readline = getattr(source, "readline", None)
        # readline with a size never reads more than that: a line with no end in sight (a
        # gigabyte of one line) is read a piece at a time. Room is left for a CR LF ending.
        lines = iter(partial(readline, limit + 2), "") if readline else iter(source)
        big = min(BIG_LINE, limit)
        for number, line in enumerate(lines, 1):
            if len(line) > big:
                if len(line) > limit and len(line.rstrip("\r\n")) > limit:
                    if line[-1] not in "\r\n":
                        for rest in lines:  # the rest of the line, a piece at a time
                            if rest[-1] in "\r\n":
                                break
                    problems[number] = f"a line longer than {limit:,} characters"
                    yield "\n"
                    continue
                self.big_characters += len(line)
            if not line.isascii() or "\x00" in line:
                problem = line_problem(line)
                if problem is not None:
                    problems[number] = problem
            yield line

    def problem_in(self, first: int, last: int) -> str | None:
        """Why one of the lines first..last is unusable, or None (one row's lines)."""
        problems = self.problems
        if not problems:
            return None
        return next((problems[n] for n in range(first, last + 1) if n in problems), None)


def line_problem(line: str) -> str | None:
    """Why a line (decoded with surrogateescape) cannot be used, or None."""
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(line[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        return f"not UTF-8 text ({what} at column {exc.start + 1}); save the file as UTF-8"
    if "\x00" in line:
        return (
            f"a NUL character at column {line.index(chr(0)) + 1} "
            "(a UTF-16 or binary file?); save the file as UTF-8 text"
        )
    return None
