"""`seqctl init`: lay out a playbook repository with starter cadences, config and sample contacts.

Every file comes from the installed package (importlib.resources), never from the source tree,
so `init` works the same from a wheel, a zip or an editable install.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

import yaml

from seqctl.errors import InputError

# Starter name (`seqctl init --template NAME`) -> playbook file under starters/playbooks/.
STARTERS: dict[str, str] = {
    "intro": "intro.yaml",
    "welcome": "welcome.yaml",
    "billing": "billing.yaml",
    "reactivation": "reactivation.yaml",
    "deal-follow-up": "deal-follow-up.yaml",
}

# Copied beside the playbooks so their `$schema=../schemas/...` comment works offline in editors.
SCHEMAS = ("sequence.schema.json", "config.schema.json")
GITIGNORE = ".gitignore"


def init_project(
    directory: Path, *, template: str | None = None, force: bool = False
) -> list[Path]:
    """Write the starter files into `directory`; return the files written, in a stable order.

    `template` picks one starter playbook (all of them when None). An existing file is never
    overwritten unless `force`: nothing is written then, and the error names the file.
    """
    plan = _plan(template)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory} exists and is not a directory")
    if not force:
        existing = [target for target in plan if (directory / target).exists()]
        if existing:
            others = len(existing) - 1
            noun = "files exist" if others > 1 else "file exists"
            more = f" ({others} more {noun} too)" if others else ""
            raise InputError(f"{existing[0]} already exists; use --force to overwrite{more}")
    (directory / "templates").mkdir(parents=True, exist_ok=True)
    written = []
    for target, source in plan.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.read_bytes())
        written.append(path)
    if _ignore(directory / GITIGNORE, (files("seqctl") / "starters" / "gitignore").read_text()):
        written.append(directory / GITIGNORE)
    return written


def _ignore(path: Path, wanted: str) -> bool:
    """Make `path` (a .gitignore) name what `wanted` names: written when missing, else the
    missing patterns appended (an existing repository keeps its own). True when it changed."""
    if not path.exists():
        path.write_text(wanted, encoding="utf-8")
        return True
    have = path.read_text(encoding="utf-8")
    present = {line.strip() for line in have.splitlines()}
    missing = [
        line
        for line in wanted.splitlines()
        if line and not line.startswith("#") and line not in present
    ]
    if not missing:
        return False
    joiner = "" if not have or have.endswith("\n") else "\n"
    lines = "\n".join(["# seqctl: the database, the outbox and secrets stay out of git", *missing])
    path.write_text(f"{have}{joiner}{lines}\n", encoding="utf-8")
    return True


def _plan(template: str | None) -> dict[PurePosixPath, Traversable]:
    """Each file to write, relative to the project directory, and the packaged file it copies."""
    if template is None:
        chosen = list(STARTERS.values())
    elif template in STARTERS:
        chosen = [STARTERS[template]]
    else:
        raise InputError(f"unknown template {template!r}; choose one of: {', '.join(STARTERS)}")
    package = files("seqctl")
    starters = package / "starters"
    plan: dict[PurePosixPath, Traversable] = {}
    templates: list[str] = []
    for name in chosen:
        playbook = starters / "playbooks" / name
        plan[PurePosixPath("playbooks", name)] = playbook
        for needed in _templates_used(playbook):
            if needed not in templates:
                templates.append(needed)
    for name in templates:
        plan[PurePosixPath("templates", name)] = starters / "templates" / name
    for name in SCHEMAS:
        plan[PurePosixPath("schemas", name)] = package / "schemas" / name
    plan[PurePosixPath("seqctl.yaml")] = starters / "seqctl.yaml"
    plan[PurePosixPath("contacts.csv")] = starters / "contacts.csv"
    return plan


def _templates_used(playbook: Traversable) -> list[str]:
    """The template files a starter playbook's steps name, in step order."""
    data = yaml.safe_load(playbook.read_text(encoding="utf-8"))
    return [step["template"] for step in data.get("steps", []) if "template" in step]
