"""Who may see a sequence: private (its owner), team (its `teams` and owner), company (everyone).

Pure functions over a sequence's definition (the newest published version's decides) and the
teams of seqctl.yaml (`teams: {name: [users]}`). No user at all (an admin, cron) sees everything.
A definition without `visibility` is visible to the company, as before visibility existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VISIBILITIES = ("private", "team", "company")
DEFAULT_VISIBILITY = "company"


def _same(a: str | None, b: str | None) -> bool:
    """Users compared as people type emails: case and surrounding blanks do not matter."""
    return a is not None and b is not None and a.strip().casefold() == b.strip().casefold()


def owner_of(definition: Mapping[str, Any], assignee: str | None = None) -> str | None:
    """The sequence's owner; for an action, its step's assignee when there is one."""
    owner = assignee or definition.get("owner")
    return str(owner) if owner else None


def owned_by(
    definition: Mapping[str, Any], owner: str | None, *, assignee: str | None = None
) -> bool:
    """True when `owner` is None (no filter) or is the owner (or the action's assignee)."""
    return owner is None or _same(owner_of(definition, assignee), owner)


@dataclass(frozen=True)
class Viewer:
    """A person looking at sequences; `user=None` is an admin or cron and sees everything."""

    user: str | None
    teams: Mapping[str, list[str]] = field(default_factory=dict)

    def member_of(self, team: str) -> bool:
        return any(_same(self.user, member) for member in self.teams.get(team) or [])

    def can_see(self, definition: Mapping[str, Any], *, assignee: str | None = None) -> bool:
        """Whether this viewer may see a sequence (or, with `assignee`, one of its actions)."""
        if self.user is None:
            return True
        if assignee is not None and _same(self.user, assignee):
            return True
        visibility = definition.get("visibility") or DEFAULT_VISIBILITY
        if visibility == "company":
            return True
        if _same(self.user, owner_of(definition)):
            return True
        if visibility == "team":
            return any(self.member_of(str(team)) for team in definition.get("teams") or [])
        return False


def admits(
    definition: Mapping[str, Any],
    viewer: Viewer | None = None,
    owner: str | None = None,
    *,
    assignee: str | None = None,
) -> bool:
    """Both filters at once: the viewer may see it, and it is the owner's (when given)."""
    return (viewer is None or viewer.can_see(definition, assignee=assignee)) and owned_by(
        definition, owner, assignee=assignee
    )
