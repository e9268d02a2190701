"""What a sequence's `enroll_when` said about each contact when it was last checked.

Automatic enrollment fires when the condition becomes true, not every time an unchanged contact
is imported again: a row here means "held the last time", for the condition with this digest (a
new condition starts afresh). `*` is a row made by the migration for contacts enrolled before
seqctl kept this record: they count as held under any condition.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from seqctl.store.sql import json_list

if TYPE_CHECKING:
    from seqctl.store.sql import Sql

ANY_CONDITION = "*"


class ConditionQueries:
    sql: Sql

    def conditions_held(self, sequence: str, condition: str, contacts: Collection[str]) -> set[str]:
        """Of these contacts, those for whom `condition` held when it was last checked."""
        rows = self.sql.execute(
            "SELECT h.contact FROM json_each(?) AS j CROSS JOIN enroll_conditions AS h"
            " ON h.sequence = ? AND h.contact = j.value AND h.condition IN (?, ?)",
            [json_list(contacts), sequence, condition, ANY_CONDITION],
        )
        return {str(contact) for (contact,) in rows}

    def record_conditions(
        self, sequence: str, condition: str, held: Collection[str], unheld: Collection[str]
    ) -> None:
        """Remember who meets `condition` now (`held`) and who no longer does (`unheld`)."""
        if held:
            self.sql.execute(
                "INSERT INTO enroll_conditions (sequence, contact, condition)"
                " SELECT ?, value, ? FROM json_each(?) WHERE true"  # WHERE: SQLite's upsert parse
                " ON CONFLICT (sequence, contact) DO UPDATE SET condition = excluded.condition",
                [sequence, condition, json_list(held)],
            )
        if unheld:
            self.sql.execute(
                "DELETE FROM enroll_conditions WHERE sequence = ?"
                " AND contact IN (SELECT value FROM json_each(?))",
                [sequence, json_list(unheld)],
            )
