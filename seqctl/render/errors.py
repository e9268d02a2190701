"""What rendering raises: a template's mistake, a missing value, or a limit it ran into."""

from __future__ import annotations

from seqctl.errors import SeqctlError


class RenderError(SeqctlError):
    """A template could not be rendered: a sandbox violation, a syntax or runtime error."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"{message} (template line {line})")
        self.line = line


class MissingVariable(RenderError):
    """A variable the template needs has no value (missing, None or "") and no default."""

    def __init__(self, name: str, *, line: int | None = None) -> None:
        super().__init__(f"missing variable '{name}' (no value and no default)", line=line)
        self.name = name


class RenderLimit(RenderError):
    """A render ran into one of its bounds (time, size of the text, text built on the way).

    Raised inside Jinja (by the guards, or by the watchdog's signal), it is a RenderError: the
    message of that one enrollment fails with the reason, the tick goes on.
    """


class RenderTimeout(RenderLimit):
    """A render took longer than its time limit."""
