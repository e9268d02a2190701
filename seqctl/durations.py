"""Waits: `3 days`, `2 business days`, `30m`, `1w`; read once, used by playbook and schedule."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"
    BUSINESS_DAYS = "business days"
    WEEKS = "weeks"


_UNIT_WORDS: dict[str, Unit] = {
    "m": Unit.MINUTES, "min": Unit.MINUTES, "mins": Unit.MINUTES,
    "minute": Unit.MINUTES, "minutes": Unit.MINUTES,
    "h": Unit.HOURS, "hr": Unit.HOURS, "hrs": Unit.HOURS, "hour": Unit.HOURS, "hours": Unit.HOURS,
    "d": Unit.DAYS, "day": Unit.DAYS, "days": Unit.DAYS,
    "bd": Unit.BUSINESS_DAYS, "business day": Unit.BUSINESS_DAYS,
    "business days": Unit.BUSINESS_DAYS,
    "w": Unit.WEEKS, "week": Unit.WEEKS, "weeks": Unit.WEEKS,
}  # fmt: skip

# The same grammar as the "duration" pattern in schemas/sequence.schema.json.
DURATION_PATTERN = (
    r"^\s*[0-9]+\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|bd|business days?|w|weeks?)\s*$"
)
_SHAPE = re.compile(r"^\s*(?P<amount>[0-9]+)\s*(?P<unit>[A-Za-z][A-Za-z _-]*?)?\s*$")


@dataclass(frozen=True)
class Wait:
    """How long to wait before a step, relative to its anchor."""

    amount: int
    unit: Unit

    def __str__(self) -> str:
        unit = self.unit.value
        if self.amount == 1:
            unit = unit.removesuffix("s")
        return f"{self.amount} {unit}"


class DurationError(ValueError):
    """A wait that cannot be read; `message` is meant for people."""

    def __init__(self, message: str, *, rule: str = "wait-format") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule


def parse_wait(text: str | int) -> Wait:
    """Read a wait such as `3 days`, `2bd` or `1 week`; raise DurationError with a hint."""
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise DurationError(f"a wait is text such as '3 days', not {type(text).__name__}")
    if isinstance(text, int):
        raise DurationError(
            f"wait {text} has no unit (did you mean '{text} days'?)", rule="wait-unit"
        )
    match = _SHAPE.match(text)
    if match is None:
        raise DurationError(
            f"cannot read wait {text!r}: expected a number and a unit, e.g. '3 days'"
        )
    amount = int(match["amount"])
    word = " ".join((match["unit"] or "").lower().replace("_", " ").replace("-", " ").split())
    if not word:
        raise DurationError(
            f"wait {text!r} has no unit (did you mean '{amount} days'?)", rule="wait-unit"
        )
    unit = _UNIT_WORDS.get(word)
    if unit is None:
        raise DurationError(_unknown_unit(word), rule="wait-unit")
    return Wait(amount, unit)


def _unknown_unit(word: str) -> str:
    close = difflib.get_close_matches(word, list(_UNIT_WORDS), n=1, cutoff=0.6)
    hint = (
        f" (did you mean '{_UNIT_WORDS[close[0]].value}'?)"
        if close
        else (" (use minutes, hours, days, business days or weeks)")
    )
    return f"unknown unit '{word}'{hint}"
