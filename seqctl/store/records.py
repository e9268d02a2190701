"""Rows as frozen records: what the store hands to the layers above."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SequenceRecord:
    id: str
    status: str
    created_at: str
    updated_at: str
    paused_at: str | None
    latest_version: int | None


@dataclass(frozen=True)
class VersionRecord:
    sequence: str
    number: int
    digest: str
    definition_json: str
    source: str | None
    published_at: str
    published_by: str | None
    git_commit: str | None

    @property
    def definition(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.definition_json)
        return data
