"""One error base class; the CLI's top-level handler turns it into a message and an exit code."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1  # the checked thing is bad: lint findings, failed sends, refused rows
    USAGE = 2  # usage or input error
    INTERRUPTED = 130


class SeqctlError(Exception):
    """An error a user can act on: printed without a traceback."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, *, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class InputError(SeqctlError):
    """Bad input: a file that cannot be read, an unknown id, a malformed value."""


class NotFound(InputError):
    """A sequence, contact, enrollment or action that does not exist."""


class ConfigError(InputError):
    """seqctl.yaml is missing something or is malformed."""


class Failed(SeqctlError):
    """The work ran but something in it failed (findings, refused rows, failed sends)."""

    exit_code = ExitCode.FINDINGS


class DatabaseError(SeqctlError):
    """The database cannot be used as asked: locked by another program, read-only, on a full
    disk, damaged, or not a seqctl database. Its unfinished transaction was rolled back."""
