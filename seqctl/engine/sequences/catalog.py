"""Read published sequences for people: lists, details, one version's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqctl.engine.sequences.visibility import Viewer, admits
from seqctl.errors import NotFound
from seqctl.playbook.model import SequenceDef, Step, from_definition
from seqctl.store import SequenceRecord, Store, VersionRecord
from seqctl.timeutil import format_instant


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
            "published_at": format_instant(self.version.published_at),
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
                    **_ab_test(step),
                }
                for step in self.model.steps
            ],
            "versions": [
                {
                    "version": v.number,
                    "digest": v.digest,
                    "published_at": format_instant(v.published_at),
                    "published_by": v.published_by,
                    "commit": v.git_commit,
                }
                for v in versions
            ],
        }


def _ab_test(step: Step) -> dict[str, Any]:
    """An A/B-tested step's variants (id, name, share) and winner; nothing for other steps."""
    if not step.variants:
        return {}
    total = sum(v.weight for v in step.variants)
    return {
        "variants": [
            {"id": v.id, "name": v.spec.get("name"), "share": round(v.weight / total, 3)}
            for v in step.variants
        ],
        "winner": step.winner,
    }


def _not_found(sequence_id: str) -> NotFound:
    return NotFound(f"no sequence '{sequence_id}' (seqctl sequences list shows the published ones)")


def sequence_view(
    store: Store, sequence_id: str, version: int | None = None, *, viewer: Viewer | None = None
) -> SequenceView:
    """A sequence with one of its versions (the newest by default).

    A sequence the viewer may not see (judged by its newest version) is not found, as if absent.
    """
    record = store.sequence(sequence_id)
    if record is None:
        raise _not_found(sequence_id)
    require_visible(store, sequence_id, viewer)
    found = store.version(sequence_id, version)
    if found is None:
        numbers = ", ".join(str(v.number) for v in store.versions(sequence_id)) or "none"
        raise NotFound(f"sequence '{sequence_id}' has no version {version} (versions: {numbers})")
    return SequenceView(record, found, from_definition(found.definition))


def require_visible(store: Store, sequence_id: str, viewer: Viewer | None) -> None:
    """The one rule every command applies before it shows or changes a sequence.

    With a viewer (--as, SEQCTL_USER): NotFound for a sequence they may not see, and for one
    that does not exist, in the same words: the answer tells nothing about what exists. Without
    one (an admin, cron), nothing: each command says in its own words what does not exist.
    """
    if viewer is None or viewer.user is None:
        return
    if store.sequence(sequence_id) is None or not Audience(store, viewer).can_see(sequence_id):
        raise _not_found(sequence_id)


def visible(store: Store, sequence_id: str | None, viewer: Viewer | None) -> bool:
    """Whether the viewer may see this sequence (anything that is no sequence's is visible)."""
    if viewer is None or viewer.user is None or sequence_id is None:
        return True
    return Audience(store, viewer).can_see(sequence_id)


def sequence_views(
    store: Store,
    *,
    viewer: Viewer | None = None,
    owner: str | None = None,
    archived: bool | None = False,
) -> list[SequenceView]:
    """Published sequences at their newest version; only the viewer's, only the owner's.

    `archived`: False leaves archived sequences out, True shows only them, None shows all.
    """
    views = (
        sequence_view(store, record.id)
        for record in store.sequences()
        if record.latest_version is not None
        and (archived is None or (record.status == "archived") == archived)
    )
    return [v for v in views if admits(v.model.definition, viewer, owner)]


class Audience:
    """Which sequences pass the viewer and owner filters, by their newest published version.

    Each sequence's newest definition is read once per instance.
    """

    def __init__(self, store: Store, viewer: Viewer | None = None, owner: str | None = None):
        self.store, self.viewer, self.owner = store, viewer, owner
        self._definitions: dict[str, dict[str, Any] | None] = {}

    @property
    def filters(self) -> bool:
        """False when nothing is filtered (no viewer with a user, no owner)."""
        return self.owner is not None or (self.viewer is not None and self.viewer.user is not None)

    def definition(self, sequence_id: str) -> dict[str, Any] | None:
        if sequence_id not in self._definitions:
            newest = self.store.version(sequence_id)
            self._definitions[sequence_id] = newest.definition if newest is not None else None
        return self._definitions[sequence_id]

    def can_see(self, sequence_id: str, *, assignee: str | None = None) -> bool:
        """Whether the viewer may see the sequence (or, with `assignee`, an action of it)."""
        if self.viewer is None:
            return True
        definition = self.definition(sequence_id)
        return self.viewer.can_see(definition or {}, assignee=assignee)

    def admits(self, sequence_id: str, *, assignee: str | None = None) -> bool:
        """Both filters: visible to the viewer and owned by the owner (or the action's assignee)."""
        if not self.filters:
            return True
        return admits(
            self.definition(sequence_id) or {}, self.viewer, self.owner, assignee=assignee
        )


def admitted(
    store: Store, viewer: Viewer | None = None, owner: str | None = None
) -> set[str] | None:
    """Ids of the sequences the viewer may see and the owner owns; None when nothing filters."""
    audience = Audience(store, viewer, owner)
    if not audience.filters:
        return None
    return {record.id for record in store.sequences() if audience.admits(record.id)}
