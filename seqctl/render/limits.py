"""The bounds of one render: its time, the size of the text it renders, and the text it builds.

A template that passes lint can still loop for minutes (`range` inside `range`), render 100 MB
(a loop around a long text) or ask Jinja for a gigabyte in one call (`'x'|center(1100000000)`).
Each render gets a budget, kept per thread (the tick renders in each process's main thread; the
event server evaluates conditions in its request threads):

- **time**: checked where a template can repeat work - each loop (every few iterations), each
  call (macros calling themselves) - and by the watchdog's timer signal for work that runs
  inside one filter;
- **output**: the rendered text, counted as the template yields it, never joined past the limit;
- **built**: what the guarded operations (`*`, `+`, `%`, `~`, `center`, `format`, `join`, ...)
  are about to make is counted before they make it, so a single huge allocation never happens;
- **memory**: the process's peak resident size may not grow by more than MAX_GROWTH during a
  render, whatever made it grow (checked with the time).

`weight` is the size a value would have as text (`str()` of a list of lists that share items
can be far larger than the lists): lists, tuples and mappings a template builds are checked
with it, so converting one to text stays bounded too.
"""

from __future__ import annotations

import dataclasses
import resource
import sys
import threading
from collections.abc import Mapping
from itertools import islice
from time import monotonic
from typing import Any

from jinja2.utils import Namespace

from seqctl.render.context import _Record, _Records
from seqctl.render.errors import RenderLimit, RenderTimeout

MAX_GROWTH_KB = 128 * 1024  # peak RSS growth allowed during one render
_RSS_UNIT = 1 if sys.platform != "darwin" else 1024  # ru_maxrss: KiB on Linux, bytes on macOS


@dataclasses.dataclass(frozen=True)
class Limits:
    """The bounds of each render (seqctl.yaml `render:` may change them)."""

    seconds: float = 2.0
    max_output: int = 1_000_000  # characters of one rendered text (a subject, a body, ...)
    max_built: int = 16_000_000  # characters the guarded operations of one render may make


LIMITS = Limits()


def configure(limits: Limits) -> None:
    """Set the bounds of every later render in this process (and in processes it forks)."""
    global LIMITS
    LIMITS = limits


class Budget:
    """The render running in this thread, and what it has used of its bounds.

    A render only sets `parts`, the list its text goes into (None when no render runs): that is
    all a render that needs no guard pays. The first guard to run in a render (or the
    watchdog, seeing it) starts its clock and zeroes its counters (`owner` is then `parts`).
    """

    __slots__ = (
        "armed", "built", "counted", "deadline", "memory_at", "owner", "parts", "rss", "size",
        "weights",
    )  # fmt: skip

    def __init__(self) -> None:
        # Only the main thread can have the watchdog: elsewhere it counts as armed already.
        self.armed = threading.current_thread() is not threading.main_thread()
        self.parts: list[str] | None = None
        self.owner: list[str] | None = None
        self.deadline = self.memory_at = 0.0
        self.built = self.counted = self.size = self.rss = 0
        self.weights: dict[int, tuple[Any, int]] | None = None

    def fresh(self) -> None:
        """The first look at a render: its clock starts, its counters are zero."""
        self.owner = self.parts
        now = monotonic()
        self.deadline = now + LIMITS.seconds
        self.memory_at = now
        self.built = self.counted = self.size = self.rss = 0
        self.weights = None

    def check(self) -> None:
        """From loops and calls: the time, the text rendered so far, and the memory."""
        parts = self.parts
        if parts is None:
            return
        if self.owner is not parts:
            self.fresh()
        now = monotonic()
        if now > self.deadline:
            raise timeout()
        if len(parts) != self.counted:
            self.size += sum(map(len, islice(parts, self.counted, None)))
            self.counted = len(parts)
            if self.size > LIMITS.max_output:
                raise too_long()
        if now >= self.memory_at:  # a system call: at most every 20 ms
            self.memory_at = now + 0.02
            self.check_memory()

    def check_memory(self) -> None:
        """The process's peak size may grow by MAX_GROWTH_KB during a render, not more."""
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // _RSS_UNIT
        if not self.rss:
            self.rss = rss
        elif rss - self.rss > MAX_GROWTH_KB:
            raise RenderLimit(
                f"the template needs more than {MAX_GROWTH_KB // 1024} MB of memory to render"
            )

    def build(self, size: int, what: str) -> None:
        """Count `size` characters an operation is about to make; refuse past the limit."""
        limit = LIMITS.max_built
        if size > limit:
            raise RenderLimit(f"{what} would make {size:,} characters (at most {limit:,})")
        if self.parts is not None:
            if self.owner is not self.parts:
                self.fresh()
            self.built += size
            if self.built > limit:
                raise RenderLimit(f"the template builds more than {limit:,} characters of text")

    def rendered_size(self, parts: list[str]) -> int:
        """The length of the text in `parts` (this render's), without joining it."""
        counted = self.size if self.owner is parts else 0
        start = self.counted if self.owner is parts else 0
        return counted + sum(map(len, islice(parts, start, None)))


class _Local(threading.local):
    def __init__(self) -> None:
        self.budget = Budget()


local = _Local()  # `local.budget`: this thread's
_SIZED = frozenset({list, tuple, range, str, dict, _Record, _Records})


def current() -> Budget:
    """The budget of this thread's render."""
    budget: Budget = local.budget
    return budget


def timeout() -> RenderTimeout:
    return RenderTimeout(
        f"rendering took longer than {LIMITS.seconds:g} s (a loop that does not end, or too "
        "much work for one message)"
    )


def too_long() -> RenderLimit:
    return RenderLimit(f"the rendered text is longer than {LIMITS.max_output:,} characters")


def guarded(iterable: Any) -> Any:
    """What a template's `{% for %}` iterates: the items, the budget checked every 16.

    A sized sequence of at most 16 items is returned as it is: checking would find nothing
    its body does not check itself, and most loops are over a contact's few orders."""
    if type(iterable) in _SIZED and len(iterable) <= 16:
        return iterable
    return _checked_every_16(iterable)


def _checked_every_16(iterable: Any) -> Any:
    check = local.budget.check
    for count, item in enumerate(iterable, 1):
        yield item
        if not count & 15:
            check()


# Weights: the length of a value's text, roughly; what `str()` or `tojson` of it would make.
_FIXED = {type(None): 4, bool: 5, float: 24, complex: 48, range: 32}


def weight(value: Any, cap: int | None = None) -> int:
    """About how many characters `value` makes as text; more than `cap` (default max_built)
    means too many, and the count stops there."""
    limit = LIMITS.max_built if cap is None else cap
    budget = local.budget
    if budget.parts is not None and budget.owner is not budget.parts:
        budget.fresh()
    if budget.weights is None:
        budget.weights = {}
    return _weight(value, limit, budget.weights)


def _weight(value: Any, cap: int, seen: dict[int, tuple[Any, int]]) -> int:
    kind = type(value)
    if kind is str:
        return len(value) + 2
    if kind is int:
        return value.bit_length() // 3 + 2
    fixed = _FIXED.get(kind)
    if fixed is not None:
        return fixed
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, bytes | bytearray):
        return 4 * len(value) + 3
    known = seen.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    items = _items(value)
    if items is None:
        return 64  # an object of its own (a macro, a cycler, ...): its text is short
    total = 2
    for item in items:
        total += _weight(item, cap, seen) + 2
        if total > cap:
            break
    if not _mutable(value):
        seen[id(value)] = (value, total)  # a list shared a thousand times is counted once
    return total


_SEQUENCES: tuple[type, ...] = (
    list,
    tuple,
    set,
    frozenset,
    type({}.items()),
    type({}.keys()),
    type({}.values()),
)
# What can be far larger as text than in memory (`str()` of a list whose items are shared).
CONTAINERS: tuple[type, ...] = (*_SEQUENCES, Mapping, _Record, _Records, Namespace)


def _items(value: Any) -> Any:
    """The values a container's text is made of; None for anything that is not a container."""
    kind = type(value)
    if kind is _Record:
        value = value._data
    elif kind is _Records:
        value = value._items
    elif kind is Namespace:
        value = object.__getattribute__(value, "_Namespace__attrs")
    if isinstance(value, Mapping):
        return (part for pair in value.items() for part in pair)
    if isinstance(value, _SEQUENCES):
        return value
    return None


def _mutable(value: Any) -> bool:
    return type(value) is Namespace  # `{% set ns.x = ... %}` changes it
