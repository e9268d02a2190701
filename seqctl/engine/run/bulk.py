"""What bulk work (an import, an enrollment of a million contacts) shares."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the duration.

    A batch keeps tens of thousands of rows alive, so the collector, started every few hundred
    allocations, walks them again and again: about 15% of an import. Bulk work makes no
    reference cycles, so reference counting alone frees it all.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
