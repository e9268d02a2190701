"""What a sync read and what came of it: counts for people, the JSON for machines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seqctl.engine.inbox.classify import Kind
from seqctl.errors import ExitCode

EVENT_KINDS = (Kind.REPLY, Kind.OUT_OF_OFFICE, Kind.BOUNCE, Kind.UNSUBSCRIBE)
_NAMES = {  # singular, plural
    Kind.REPLY: ("reply", "replies"),
    Kind.OUT_OF_OFFICE: ("out-of-office reply", "out-of-office replies"),
    Kind.BOUNCE: ("bounce", "bounces"),
    Kind.UNSUBSCRIBE: ("unsubscribe", "unsubscribes"),
}


@dataclass
class SyncReport:
    """What a sync read and what came of it."""

    now: str
    read: int = 0
    events: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in EVENT_KINDS})
    duplicates: int = 0
    unmatched: int = 0
    ignored: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    exited: int = 0
    paused: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (inbox, what went wrong)
    misconfigured: bool = False  # an error was seqctl.yaml's or the environment's, not a server's
    folders: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "now": self.now,
            "read": self.read,
            "events": dict(self.events),
            "duplicates": self.duplicates,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
            "skipped": [{"mail": where, "reason": reason} for where, reason in self.skipped],
            "exited": self.exited,
            "paused": self.paused,
            "refused": [{"mail": where, "reason": reason} for where, reason in self.refused],
            "errors": [{"inbox": inbox, "error": error} for inbox, error in self.errors],
            "folders": list(self.folders),
        }
        if self.stopped is not None:
            data["stopped"] = self.stopped
        return data

    def summary(self) -> str:
        """One line for people: what was read and what came of it."""
        kinds = ", ".join(
            f"{self.events[k.value]} {_NAMES[k][self.events[k.value] != 1]}" for k in EVENT_KINDS
        )
        return (
            f"read {self.read:,} message{'s' if self.read != 1 else ''}: {kinds}"
            f" ({self.duplicates} already known); {self.unmatched} matched nobody,"
            f" {self.ignored} ignored, {len(self.skipped)} skipped;"
            f" {self.exited} enrollment{'s' if self.exited != 1 else ''} exited,"
            f" {self.paused} paused"
        )

    @property
    def exit_code(self) -> ExitCode:
        """2 when the configuration is wrong (a person must fix it), 1 when an inbox could not
        be read or an event was refused, else 0."""
        if self.misconfigured:
            return ExitCode.USAGE
        return ExitCode.FINDINGS if self.failed else ExitCode.OK

    @property
    def failed(self) -> bool:
        """An inbox could not be read, or an event was refused (not junk mail skipped)."""
        return bool(self.errors or self.refused)

    @property
    def problems(self) -> list[str]:
        """What a person should look at: inboxes that failed, mail skipped or refused."""
        return [
            *(f"inbox {inbox}: {error}" for inbox, error in self.errors),
            *(f"{where}: skipped: {reason}" for where, reason in self.skipped),
            *(f"{where}: {reason}" for where, reason in self.refused),
        ]
