"""Ctrl-C and SIGTERM during a tick: the first asks it to stop between batches, the second now."""

from __future__ import annotations

import signal

import pytest

from seqctl.cli.signals import exit_code, graceful_stop


def test_the_first_signal_asks_and_the_second_stops_at_once(
    capfd: pytest.CaptureFixture[str],
) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with graceful_stop() as stop:
        # A worker process follows its parent's request; that is not a signal of its own.
        stop.follow(lambda: True, "stopped by the parent")
        assert stop() == "stopped by the parent"
        signal.raise_signal(signal.SIGTERM)  # its first signal: asks, does not raise
        assert stop() == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
    assert "SIGTERM: stopping after the batch in hand" in capfd.readouterr().err


def test_exit_codes_are_the_shells() -> None:
    assert (exit_code("SIGINT"), exit_code("SIGTERM"), exit_code("stopped by the parent")) == (
        130,
        143,
        1,
    )
