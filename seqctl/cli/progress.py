"""A running count on stderr for long work: redrawn in place on a terminal, silent otherwise.

Under cron (no TTY) nothing is written, so logs grow only with what a command reports at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """`\\r<label>: 12,000` on a terminal stream, and a final newline once something was drawn.

    Engine functions call back either with each batch's size (pass `add`) or with the running
    total (pass `show`).
    """

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = self.stream.isatty()
        self.count = 0
        self.shown = False

    def add(self, count: int) -> None:
        """Count one more batch of `count` items."""
        self.show(self.count + count)

    def show(self, total: int) -> None:
        """Redraw with the running total."""
        self.count = total
        if self.enabled:
            self.stream.write(f"\r{self.label}: {total:,}")
            self.stream.flush()
            self.shown = True

    def done(self) -> None:
        """End the line, so what is printed next starts on its own."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


@contextmanager
def progress(label: str, stream: TextIO | None = None) -> Iterator[Progress]:
    """A `Progress` whose line is ended however the work ends (also on an error or Ctrl-C)."""
    reporter = Progress(label, stream)
    try:
        yield reporter
    finally:
        reporter.done()
