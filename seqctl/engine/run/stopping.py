"""Stopping a long run at its next safe point: between batches, never between a message's send
and its record (a channel that cannot be asked what it got would get it again)."""

from __future__ import annotations

from collections.abc import Callable


class StopRequest:
    """Set from outside (a signal handler); the run looks at it between batches."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._followed: list[tuple[Callable[[], bool], str]] = []

    def follow(self, asked: Callable[[], bool], reason: str) -> None:
        """Also stop, for `reason`, once `asked()` is true (another process's request)."""
        self._followed.append((asked, reason))

    def request(self, reason: str) -> None:
        """Ask the run to stop; the first reason given is the one reported."""
        if self.reason is None:
            self.reason = reason

    def __call__(self) -> str | None:
        """Why the run should stop, or None to go on. `reason` stays this process's own."""
        if self.reason is not None:
            return self.reason
        for asked, reason in self._followed:
            if asked():
                return reason
        return None
