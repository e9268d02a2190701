"""Which variant of an A/B-tested message step an enrollment gets.

An enrollment draws one number, once: a hash of its sequence and id, so a replay, a retry or a
second tick draws the same, and no state is kept for it. Each variant step turns that number
into a variant by the step's weights. Steps that list the same variants with the same weights
therefore give an enrollment the same side all through its run (a test of a whole track), and
over many enrollments each variant's share is its weight over the sum of the weights.

A `winner:` ends the test: every new send of the step uses that variant, also for enrollments
on an older version whose step has it (the newest version's winner is looked up once per run).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from seqctl.playbook.model import Step, Variant

_SCALE = float(2**64)


def draw(sequence: str, enrollment: int) -> float:
    """The enrollment's number in [0, 1): uniform over enrollments, the same every time."""
    digest = hashlib.sha256(f"{sequence}\x00{enrollment}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def pick(variants: Sequence[Variant], number: float) -> Variant:
    """The variant whose share of [0, 1), laid out in order by weight, holds `number`."""
    total = sum(v.weight for v in variants)
    threshold = number * total
    reached = 0.0
    for variant in variants:
        reached += variant.weight
        if threshold < reached:
            return variant
    return variants[-1]  # only when rounding leaves `threshold` at the very top


def choose(
    step: Step, sequence: str, enrollment: int | None, *, winner: str | None = None
) -> str | None:
    """The id of the variant this enrollment gets at this step; None for a step without.

    `winner` (a newer version's) wins over the step's own, when the step has that variant.
    Without an enrollment (a preview of someone not enrolled) only a winner can be told.
    """
    variants = step.variants
    if not variants:
        return None
    ids = [v.id for v in variants]
    for chosen in (winner, step.winner):
        if chosen is not None and chosen in ids:
            return chosen
    if enrollment is None:
        return None
    return pick(variants, draw(sequence, enrollment)).id


def shares(step: Step) -> dict[str, float]:
    """Each variant's expected share of the enrollments (its weight over the sum)."""
    variants = step.variants
    total = sum(v.weight for v in variants) or 1.0
    return {v.id: v.weight / total for v in variants}
