"""Work on hold: actions and approvals of a paused sequence (or a paused enrollment) wait.

A sequence is paused because something needs fixing or the timing is wrong. Its people's work
pauses with it, as its sends do: its actions are not listed as due (`actions --all` shows them
as `paused`), and its messages waiting for approval are left out of `approvals` and of
`approve --all`. One approved by its id is queued, and sent once the sequence is resumed.
"""

from __future__ import annotations

from collections.abc import Iterable

from seqctl.store import Store
from seqctl.store.states import EnrollmentState


class OnHold:
    """Which enrollments are held: paused themselves, or in a paused sequence."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.paused_sequences = {r.id for r in store.sequences() if r.status == "paused"}

    def held(self, pairs: Iterable[tuple[str, int]]) -> set[int]:
        """Of these (sequence, enrollment id) pairs, the enrollments on hold."""
        listed = list(pairs)
        held = {e for s, e in listed if s in self.paused_sequences}
        states = self.store.enrollment_states([e for _, e in listed if e not in held])
        return held | {e for e, state in states.items() if state == EnrollmentState.PAUSED}
