"""Read published sequences for people: lists, details, one version's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqctl.errors import NotFound
from seqctl.playbook.model import SequenceDef, from_definition
from seqctl.store import SequenceRecord, Store, VersionRecord


@dataclass(frozen=True)
class SequenceView:
    record: SequenceRecord
    version: VersionRecord
    model: SequenceDef

    def summary(self) -> dict[str, Any]:
        return {
            "sequence": self.record.id,
            "name": self.model.name,
            "status": self.record.status,
            "version": self.version.number,
            "steps": len(self.model.steps),
            "owner": self.model.definition.get("owner"),
            "published_at": self.version.published_at,
        }

    def details(self, versions: list[VersionRecord]) -> dict[str, Any]:
        definition = self.model.definition
        return {
            **self.summary(),
            "description": definition.get("description"),
            "digest": self.version.digest,
            "published_by": self.version.published_by,
            "commit": self.version.git_commit,
            "source": self.version.source,
            "timezone": definition.get("timezone"),
            "approval": definition.get("approval"),
            "steps": [
                {
                    "id": step.id,
                    "type": str(step.type),
                    "mode": str(step.mode),
                    "wait": ", ".join(str(w) for w in step.waits) or None,
                    "day": step.day,
                    "subject": step.spec.get("subject"),
                }
                for step in self.model.steps
            ],
            "versions": [
                {
                    "version": v.number,
                    "digest": v.digest,
                    "published_at": v.published_at,
                    "published_by": v.published_by,
                    "commit": v.git_commit,
                }
                for v in versions
            ],
        }


def sequence_view(store: Store, sequence_id: str, version: int | None = None) -> SequenceView:
    """A sequence with one of its versions (the newest by default)."""
    record = store.sequence(sequence_id)
    if record is None:
        raise NotFound(
            f"no sequence '{sequence_id}' (seqctl sequences list shows the published ones)"
        )
    found = store.version(sequence_id, version)
    if found is None:
        numbers = ", ".join(str(v.number) for v in store.versions(sequence_id)) or "none"
        raise NotFound(f"sequence '{sequence_id}' has no version {version} (versions: {numbers})")
    return SequenceView(record, found, from_definition(found.definition))


def sequence_views(store: Store) -> list[SequenceView]:
    return [
        sequence_view(store, record.id)
        for record in store.sequences()
        if record.latest_version is not None
    ]
