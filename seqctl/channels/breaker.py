"""A breaker per server: one that refuses, hangs or keeps timing out is left alone for the rest
of the tick, so the tick does not wait on it batch after batch. Its messages wait for later
(they are held, not failed, and a hold is no attempt)."""

from __future__ import annotations

import threading

from seqctl.channels.base import Delivery

FAILURES_BEFORE_TRIPPING = 3  # timeouts or server errors in a row, across the connections


class Breaker:
    """The state of one server (an SMTP host, a webhook origin) during one tick."""

    def __init__(self, limit: int = FAILURES_BEFORE_TRIPPING) -> None:
        self.limit = limit
        self.reason: str | None = None  # why it tripped; None while closed
        self.retry_after: float | None = None  # what the server asked for, when it did
        self._in_a_row = 0
        self._lock = threading.Lock()

    def trip(self, reason: str, retry_after: float | None = None) -> None:
        """Leave the server alone from now on (it refused, or asked to be left alone)."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            if retry_after is not None:
                self.retry_after = max(retry_after, self.retry_after or 0.0)

    def failed(self, reason: str) -> None:
        """A timeout or a server error: trips after `limit` in a row."""
        with self._lock:
            self._in_a_row += 1
            if self._in_a_row >= self.limit and self.reason is None:
                self.reason = f"{reason} ({self._in_a_row} times in a row)"

    def worked(self) -> None:
        with self._lock:
            self._in_a_row = 0

    def hold(self, message_id: int) -> Delivery | None:
        """The message's outcome without sending it, once tripped: held for later."""
        reason = self.reason
        if reason is None:
            return None
        return Delivery(
            message_id, error=reason, temporary=True, held=True, retry_after=self.retry_after
        )
