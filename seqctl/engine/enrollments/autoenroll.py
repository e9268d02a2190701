"""Automatic enrollment: a playbook's `enroll_when:` condition, checked as contacts come in, and
the configured default sequence for contacts seen for the first time."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from seqctl import render
from seqctl.engine.contacts import ImportReport, ParsedRow, import_contacts
from seqctl.engine.enrollments.enrollment import Enroller, EnrollReport
from seqctl.engine.run.runtime import Versions
from seqctl.errors import ConfigError
from seqctl.store import Store
from seqctl.store.records import ContactRow


class AutoEnroll:
    """Called after each imported batch (and when an event's `on:` rule sets attributes):
    enrolls the contacts for whom a sequence's `enroll_when` became true.

    The condition is checked on every contact that came in, and what it said is remembered per
    sequence and contact (store: enroll_conditions): a contact is enrolled when it turns true,
    not again while it stays true, however often an unchanged row is imported. When it turns
    true a second time, the sequence's `reenroll` policy decides, as for any enrollment.
    """

    def __init__(self, store: Store, now: datetime, default_sequence: str | None) -> None:
        self.store = store
        self.now = now
        versions = Versions(store)
        self.rules: list[tuple[str, str, str, str]] = []  # (sequence, condition, target, digest)
        for record in store.sequences():
            if record.status != "active" or record.latest_version is None:
                continue
            definition = versions.get(record.id).model.definition
            condition = definition.get("enroll_when")
            if condition:
                digest = hashlib.sha256(str(condition).encode("utf-8")).hexdigest()[:16]
                target = str(definition.get("target", "contact"))
                self.rules.append((record.id, str(condition), target, digest))
        self.default = default_sequence
        if default_sequence is not None and store.sequence(default_sequence) is None:
            raise ConfigError(
                f"seqctl.yaml: default_sequence '{default_sequence}' is not a published sequence"
            )
        self.enrolled: dict[str, int] = {}
        self._enrollers: dict[str, Enroller] = {}  # version, policy, due times: once a run

    def __call__(self, batch: list[ContactRow], new: set[str]) -> None:
        self.check(list(dict.fromkeys(row.key for row in batch)))
        if self.default is not None:
            self._enroll(self.default, [row.key for row in batch if row.key in new])

    def check(self, keys: list[str]) -> None:
        """Enroll those of these contacts for whom a rule's condition has just become true."""
        if not self.rules:
            return
        stored = self.store.contacts_by_key(keys)
        for sequence, condition, target, digest in self.rules:
            matching = [
                key
                for key in keys
                if key in stored
                and render.evaluate(
                    condition, render.template_context(stored[key].fields(), target=target)
                )
            ]
            held = set(matching)
            with self.store.transaction():
                before = self.store.conditions_held(sequence, digest, matching)
                unheld = [key for key in keys if key in stored and key not in held]
                self.store.record_conditions(sequence, digest, matching, unheld)
            self._enroll(sequence, [key for key in matching if key not in before])

    def _enroll(self, sequence: str, keys: list[str]) -> None:
        if keys:
            enroller = self._enrollers.get(sequence)
            if enroller is None:
                enroller = self._enrollers[sequence] = Enroller(self.store, sequence, now=self.now)
            report = EnrollReport()
            enroller.enroll_all(keys, report)
            if report.enrolled:
                self.enrolled[sequence] = self.enrolled.get(sequence, 0) + report.enrolled


def import_and_enroll(
    store: Store,
    rows: Iterable[ParsedRow],
    *,
    now: datetime,
    default_sequence: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import contacts, then enroll those that match a sequence's `enroll_when`, batch by batch."""
    auto = AutoEnroll(store, now, default_sequence)
    hook = auto if auto.rules or auto.default else None
    report = import_contacts(store, rows, now=now, progress=progress, after_batch=hook)
    return replace(report, enrolled=auto.enrolled)
