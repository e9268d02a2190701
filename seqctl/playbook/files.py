"""Where a playbook's `template:` and `attachments:` files may come from: inside its repository.

Playbooks come from anyone who can open a pull request, and a version sends what it was
published with: a name like `/etc/passwd`, `../../.ssh/id_rsa` or a symlink in `templates/`
pointing at a secret would mail that secret to contacts. So a name is refused, before any file
is opened, when it is absolute (also `C:\\...` and `\\\\server\\...`) or when its `..` lead out of
the repository; and a file that is found is refused when its real path (every symlink, at any
level, resolved) is outside the repository - for a template, outside the `templates/` folder it
was found in.

The **repository** of a playbook is the nearest folder at or above the playbook's own folder
(symlinks resolved) that holds `seqctl.yaml` or `.git`. Without either, only the folders seqctl
looks in count: the playbook's folder and the `templates/` and `attachments/` folders one up.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqctl.playbook.bounds import MAX_FILE_CHARS

MARKERS = ("seqctl.yaml", ".git")
_SEPARATORS = re.compile(r"[\\/]+")  # a backslash separates folders on Windows: count it as one
_ABSOLUTE = re.compile(r"^(?:[\\/]|[A-Za-z]:)")  # /etc, \\server\share, C:\ and C:relative


@dataclass(frozen=True)
class Repository:
    """The folders a playbook's files must be inside (real paths)."""

    root: Path  # what repository-relative paths are relative to
    areas: tuple[Path, ...]
    marked: bool  # found by seqctl.yaml or .git (else: the folders seqctl looks in)

    def contains(self, path: Path) -> bool:
        return any(path.is_relative_to(area) for area in self.areas)

    def describe(self) -> str:
        if self.marked:
            return f"the playbook repository ({_shown(self.root)})"
        return (
            f"the playbook's folder and the templates/ and attachments/ folders in "
            f"{_shown(self.root)} (no seqctl.yaml or .git above the playbook)"
        )


@functools.lru_cache(maxsize=256)
def repository_of(folder: Path) -> Repository:
    """The repository of the playbooks in `folder` (a resolved path)."""
    for candidate in (folder, *folder.parents):
        if any(os.path.lexists(candidate / marker) for marker in MARKERS):
            return Repository(candidate, (candidate,), True)
    up = folder.parent
    areas = (folder, (up / "templates").resolve(), (up / "attachments").resolve())
    return Repository(up, areas, False)


@dataclass(frozen=True)
class Located:
    """The outcome of looking a name up: the file's real path, or why the name is refused.

    Both None: nothing by that name in the folders looked in.
    """

    path: Path | None = None
    problem: str | None = None
    relative: str | None = None  # the real path relative to the repository root, with '/'


@dataclass(frozen=True)
class Sources:
    """Where one playbook's template and attachment files are looked up."""

    repository: Repository
    template_dirs: tuple[Path, ...]
    attachment_dirs: tuple[Path, ...]

    def template(self, name: str) -> Located:
        """A `template:` file: under one of the templates/ folders, and really there."""
        if _ABSOLUTE.match(name) or ".." in _SEPARATORS.split(name) or "\0" in name:
            return Located(problem=f"template '{name}' must be a relative path under templates/")
        for folder in self.template_dirs:
            if not self.repository.contains(folder):
                continue  # templates/ one up from a playbook at the root: not looked in
            candidate = folder.joinpath(*_parts(name))
            area, real = _real(folder), _real(candidate)
            if area is None or real is None or not self.repository.contains(area):
                return Located(problem=f"template '{name}': {_shown(folder)} {_LINKS_OUT}")
            if not real.is_relative_to(area):
                return Located(
                    problem=f"template '{name}' is a link to a file outside "
                    f"{_shown(folder)} ({real}): templates are read from templates/ only"
                )
            if real.is_file():
                return Located(real, relative=self._relative(real))
        return Located()

    def attachment(self, name: str) -> Located:
        """An `attachments:` file: relative to the playbook (or in attachments/), inside the
        repository; `..` may be used as long as it stays inside."""
        if _ABSOLUTE.match(name) or "\0" in name:
            return Located(
                problem=f"attachment '{name}' is an absolute path: attach files from inside "
                f"{self.repository.describe()}, by a path relative to the playbook"
            )
        beside = self.attachment_dirs[0]
        if not self.repository.contains(_lexical(beside, name)):
            return Located(problem=f"attachment '{name}' leads out of {self.repository.describe()}")
        for folder in self.attachment_dirs:
            candidate = _lexical(folder, name)
            if not self.repository.contains(candidate):
                continue  # never looked at, even to see whether it exists
            real = _real(candidate)
            if real is None or not self.repository.contains(real):
                return Located(
                    problem=f"attachment '{name}' is a link to a file outside "
                    f"{self.repository.describe()}" + (f" ({real})" if real else "")
                )
            if real.is_file():
                return Located(real, relative=self._relative(real))
        return Located()

    def _relative(self, real: Path) -> str:
        try:
            return real.relative_to(self.repository.root).as_posix()
        except ValueError:  # an area of a repository without a marker: shown whole
            return real.as_posix()


def sources_for(playbook: Path) -> Sources:
    """Templates: templates/ beside the playbook, then one up. Attachments: beside the
    playbook, in attachments/ there, then in attachments/ one up."""
    folder = playbook.resolve().parent
    return Sources(
        repository_of(folder),
        (folder / "templates", folder.parent / "templates"),
        (folder, folder / "attachments", folder.parent / "attachments"),
    )


def read_template(path: Path) -> tuple[str | None, str | None]:
    """A template file's text, or why it cannot be used: too long, not UTF-8, unreadable."""
    try:
        with path.open(encoding="utf-8") as handle:
            text = handle.read(MAX_FILE_CHARS + 1)
    except UnicodeDecodeError as exc:
        return None, f"template '{_shown(path)}' is not UTF-8 text ({exc.reason})"
    except OSError as exc:
        return None, f"template '{_shown(path)}' cannot be read: {exc.strerror}"
    if len(text) > MAX_FILE_CHARS:
        return None, f"template '{_shown(path)}' is longer than {MAX_FILE_CHARS:,} characters"
    return text, None


def climbs(name: str) -> bool:
    """Whether a name has a `..` part (with `/` or `\\` between parts)."""
    return ".." in _SEPARATORS.split(name)


def stored_attachment_problem(item: Mapping[str, Any]) -> str | None:
    """Why an attachment named by a published version must not be sent, or None.

    A version published before attachments were kept inside the repository may have copied in
    a file named by an absolute path or by `..` leading anywhere. Since then a name with `..`
    is published with the repository-relative `path` it was found at, so one without it (or
    an absolute one) is from before, and is not sent.
    """
    name = str(item.get("name", ""))
    path = item.get("path")
    checked = isinstance(path, str) and not _ABSOLUTE.match(path) and not climbs(path)
    if _ABSOLUTE.match(name) or "\0" in name or (climbs(name) and not checked):
        return (
            f"attachment '{name}' was published by a seqctl that did not check that it comes "
            "from inside the playbook repository, so it is not sent; fix the playbook, publish "
            "it again and move the enrollments with seqctl migrate"
        )
    return None


_LINKS_OUT = "is a link that leads out of the playbook repository"


def _real(path: Path) -> Path | None:
    """The path with every symlink resolved (None for a loop of links). Opens no file."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return None


def _parts(name: str) -> list[str]:
    return [part for part in _SEPARATORS.split(name) if part not in ("", ".")]


def _lexical(folder: Path, name: str) -> Path:
    """folder/name with `.` and `..` applied to the text, without touching the disk."""
    target = folder
    for part in _parts(name):
        target = target.parent if part == ".." else target / part
    return target


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd().resolve())) or "."
    except ValueError:
        return str(path)
