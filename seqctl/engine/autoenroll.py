"""Automatic enrollment: a playbook's `enroll_when:` condition, checked as contacts come in, and
the configured default sequence for contacts seen for the first time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime

from seqctl import render
from seqctl.engine.contacts import ImportReport, ParsedRow, import_contacts
from seqctl.engine.enrollment import Enroller, EnrollReport
from seqctl.engine.runtime import Versions
from seqctl.errors import ConfigError
from seqctl.store import Store
from seqctl.store.records import ContactRow


class AutoEnroll:
    """Called after each imported batch: enrolls the contacts that match each rule."""

    def __init__(self, store: Store, now: datetime, default_sequence: str | None) -> None:
        self.store = store
        self.now = now
        versions = Versions(store)
        self.rules: list[tuple[str, str, str]] = []  # (sequence, condition, target)
        for record in store.sequences():
            if record.status != "active" or record.latest_version is None:
                continue
            definition = versions.get(record.id).model.definition
            condition = definition.get("enroll_when")
            if condition:
                self.rules.append(
                    (record.id, str(condition), str(definition.get("target", "contact")))
                )
        self.default = default_sequence
        if default_sequence is not None and store.sequence(default_sequence) is None:
            raise ConfigError(
                f"seqctl.yaml: default_sequence '{default_sequence}' is not a published sequence"
            )
        self.enrolled: dict[str, int] = {}
        self._enrollers: dict[str, Enroller] = {}  # version, policy, due times: once a run

    def __call__(self, batch: list[ContactRow], new: set[str]) -> None:
        keys = list(dict.fromkeys(row.key for row in batch))
        stored = self.store.contacts_by_key(keys)
        for sequence, condition, target in self.rules:
            matching = [
                key
                for key in keys
                if key in stored
                and render.evaluate(
                    condition, render.template_context(stored[key].fields(), target=target)
                )
            ]
            # Someone who left (removed, replied, unsubscribed) is not brought back by a
            # matching import; enrolling them by hand still can.
            left = self.store.last_ended(sequence, matching)
            self._enroll(sequence, [k for k in matching if left.get(k) != "exited"])
        if self.default is not None:
            self._enroll(self.default, [key for key in keys if key in new])

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
