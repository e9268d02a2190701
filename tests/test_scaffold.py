"""`seqctl init`: the scaffold it writes, and the starter cadences it ships."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import yaml

from seqctl.durations import Unit, parse_wait
from seqctl.engine.run.runtime import RunnableVersion
from seqctl.engine.views.preview import preview
from seqctl.errors import ExitCode, InputError
from seqctl.playbook.files import sources_for
from seqctl.playbook.model import normalise
from seqctl.playbook.scaffold import STARTERS, init_project
from seqctl.playbook.source import load_document

PACKAGE = files("seqctl")
STARTER_DIR = PACKAGE / "starters"
SCHEMA_LINE = "# yaml-language-server: $schema=../schemas/sequence.schema.json"
MESSAGE_TYPES = {"email", "sms", "whatsapp", "telegram"}

COMMON = [
    "schemas/sequence.schema.json",
    "schemas/config.schema.json",
    "seqctl.yaml",
    "contacts.csv",
    ".gitignore",
]
ALL_FILES = [
    "playbooks/intro.yaml",
    "playbooks/welcome.yaml",
    "playbooks/billing.yaml",
    "playbooks/reactivation.yaml",
    "playbooks/deal-follow-up.yaml",
    "templates/welcome-2.md.j2",
    *COMMON,
]


def relative(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def starter(name: str) -> dict[str, Any]:
    data = yaml.safe_load((STARTER_DIR / "playbooks" / STARTERS[name]).read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def schema(name: str) -> dict[str, Any] | None:
    """A packaged schema, or None while it is still being written."""
    source = PACKAGE / "schemas" / name
    if not source.is_file() or not source.read_text("utf-8").strip():
        return None
    loaded: dict[str, Any] = json.loads(source.read_text("utf-8"))
    return loaded


# -- the scaffold ------------------------------------------------------------------------------


def test_init_writes_every_starter_and_returns_them_in_order(tmp_path: Path) -> None:
    written = init_project(tmp_path / "sales")

    root = tmp_path / "sales"
    assert relative(written, root) == ALL_FILES
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) == sorted(
        ALL_FILES
    )
    for path in written:
        packaged = PACKAGE / "schemas" / path.name if path.parent.name == "schemas" else None
        if path.name == ".gitignore":
            packaged = STARTER_DIR / "gitignore"  # a dot file would be left out of a wheel
        source = packaged or STARTER_DIR.joinpath(*path.relative_to(root).parts)
        assert path.read_bytes() == source.read_bytes(), path


def test_init_into_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    written = init_project(Path("."))

    assert [p.as_posix() for p in written] == ALL_FILES
    assert (tmp_path / "playbooks" / "intro.yaml").is_file()


def test_template_writes_only_that_playbook(tmp_path: Path) -> None:
    written = init_project(tmp_path, template="billing")

    assert relative(written, tmp_path) == ["playbooks/billing.yaml", *COMMON]
    assert (tmp_path / "templates").is_dir()  # where the user's own templates go
    assert list((tmp_path / "templates").iterdir()) == []


def test_welcome_gets_the_template_its_step_names(tmp_path: Path) -> None:
    written = init_project(tmp_path, template="welcome")

    assert relative(written, tmp_path)[:2] == [
        "playbooks/welcome.yaml",
        "templates/welcome-2.md.j2",
    ]
    copied = (tmp_path / "templates" / "welcome-2.md.j2").read_text("utf-8")
    assert copied == (STARTER_DIR / "templates" / "welcome-2.md.j2").read_text("utf-8")
    steps = starter("welcome")["steps"]
    assert [s["template"] for s in steps if "template" in s] == ["welcome-2.md.j2"]


def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path) -> None:
    init_project(tmp_path)
    (tmp_path / "playbooks" / "intro.yaml").write_text("sequence: mine\n", "utf-8")

    with pytest.raises(InputError) as caught:
        init_project(tmp_path)

    assert str(caught.value).startswith(
        "playbooks/intro.yaml already exists; use --force to overwrite"
    )
    assert caught.value.exit_code == ExitCode.USAGE
    assert (tmp_path / "playbooks" / "intro.yaml").read_text("utf-8") == "sequence: mine\n"


def test_one_existing_file_blocks_the_whole_init(tmp_path: Path) -> None:
    (tmp_path / "contacts.csv").write_text("key,email\nme,me@acme.test\n", "utf-8")

    with pytest.raises(InputError, match=r"^contacts\.csv already exists; use --force"):
        init_project(tmp_path, template="intro")

    assert [p.name for p in tmp_path.iterdir()] == ["contacts.csv"]


def test_force_overwrites(tmp_path: Path) -> None:
    init_project(tmp_path, template="intro")
    (tmp_path / "playbooks" / "intro.yaml").write_text("sequence: mine\n", "utf-8")

    written = init_project(tmp_path, template="intro", force=True)

    # the .gitignore already names everything: left as it is
    assert relative(written, tmp_path) == ["playbooks/intro.yaml", *COMMON[:-1]]
    assert (tmp_path / "playbooks" / "intro.yaml").read_text("utf-8").startswith(SCHEMA_LINE)


def test_unknown_template_lists_the_names(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        init_project(tmp_path, template="welcom")

    assert str(caught.value) == (
        "unknown template 'welcom'; choose one of: "
        "intro, welcome, billing, reactivation, deal-follow-up"
    )
    assert not any(tmp_path.iterdir())


def test_directory_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "sales").write_text("", "utf-8")

    with pytest.raises(InputError, match="is not a directory"):
        init_project(tmp_path / "sales")


# -- the starter cadences ----------------------------------------------------------------------


def test_every_packaged_playbook_is_a_starter() -> None:
    packaged = sorted(p.name for p in (STARTER_DIR / "playbooks").iterdir() if p.is_file())
    assert packaged == sorted(STARTERS.values())


@pytest.mark.parametrize("name", list(STARTERS))
def test_starter_parses_and_reads_well(name: str) -> None:
    text = (STARTER_DIR / "playbooks" / STARTERS[name]).read_text("utf-8")
    data = starter(name)

    assert text.splitlines()[0] == SCHEMA_LINE
    assert data["owner"] == "ana@acme.test"
    assert data["sender"] == {"name": "Ana", "email": "ana@acme.test"}
    steps = data["steps"]
    assert steps[-1]["type"] != "wait"
    ids = [step["id"] for step in steps if "id" in step]
    assert len(ids) == len(set(ids))


def _at_least_an_hour(waits: list[str]) -> bool:
    parsed = [parse_wait(wait) for wait in waits]
    if any(wait.unit not in (Unit.MINUTES, Unit.HOURS) for wait in parsed):
        return True
    return sum(w.amount * (60 if w.unit is Unit.HOURS else 1) for w in parsed) >= 60


@pytest.mark.parametrize("name", list(STARTERS))
def test_starter_messages_are_at_least_an_hour_apart(name: str) -> None:
    after_a_message = False
    waits: list[str] = []  # every wait since the previous message
    for step in starter(name)["steps"]:
        if "wait" in step:
            waits.append(step["wait"])
        if step["type"] in MESSAGE_TYPES:
            assert not after_a_message or _at_least_an_hour(waits), step.get("id")
            after_a_message, waits = True, []


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


@pytest.mark.parametrize("name", list(STARTERS))
def test_every_step_renders_for_a_contact_with_only_an_email(name: str) -> None:
    """Starters never fail on a contact the sales team knows little about."""
    playbook = STARTER_DIR / "playbooks" / STARTERS[name]
    data = load_document(Path(str(playbook))).data
    version = RunnableVersion(name, 1, normalise(data, sources_for(Path(str(playbook)))))
    contact = {"key": "x", "email": "x@example.com", "phone": "+15550100"}
    plan = preview(version, contact, start=datetime(2026, 11, 23, 15, tzinfo=UTC))
    assert [entry.get("error") for entry in plan] == [None] * len(plan)
    assert all("  " not in (entry.get("subject") or "") for entry in plan)


def test_billing_sends_on_its_own_with_consent_and_a_whatsapp_fallback() -> None:
    data = starter("billing")
    assert data["approval"] == "auto"
    assert data["consent"] == {"by": "ana@acme.test", "at": "2026-11-01"}
    assert data["limits"] == {"per_day": 500}
    assert [(s["type"], s.get("wait")) for s in data["steps"]] == [
        ("email", None), ("sms", "1 day"), ("whatsapp", "3 days")
    ]  # fmt: skip
    fallback = data["steps"][-1]["whatsapp_template"]
    assert (fallback["name"], fallback["language"]) == ("payment_reminder", "en")


@pytest.mark.parametrize("name", list(STARTERS))
def test_starter_validates_against_the_package_schema(name: str) -> None:
    sequence_schema = schema("sequence.schema.json")
    if sequence_schema is None:
        pytest.skip("seqctl/schemas/sequence.schema.json is not written yet")
    jsonschema.Draft202012Validator.check_schema(sequence_schema)
    # The project's reader, as lint uses it: plain yaml.safe_load is YAML 1.1 and would turn
    # the `on:` key into True.
    source = STARTER_DIR / "playbooks" / STARTERS[name]
    document = load_document(Path(source.name), text=source.read_text("utf-8"))
    errors = list(jsonschema.Draft202012Validator(sequence_schema).iter_errors(document.data))
    assert [f"{list(e.absolute_path)}: {e.message}" for e in errors] == []


def test_starter_config_validates_against_the_package_schema() -> None:
    config_schema = schema("config.schema.json")
    if config_schema is None:
        pytest.skip("seqctl/schemas/config.schema.json is not written yet")
    text = (STARTER_DIR / "seqctl.yaml").read_text("utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=schemas/config.schema.json"
    config = yaml.safe_load(text)
    assert config == {
        "database": "seqctl.db",
        "channels": {"default": {"kind": "file", "path": "outbox.jsonl"}},
    }
    errors = list(jsonschema.Draft202012Validator(config_schema).iter_errors(config))
    assert [e.message for e in errors] == []


def test_sample_contacts() -> None:
    rows = list(csv.DictReader((STARTER_DIR / "contacts.csv").read_text("utf-8").splitlines()))

    assert list(rows[0]) == [
        "key", "email", "first_name", "last_name", "company", "phone", "timezone", "status"
    ]  # fmt: skip
    assert 10 <= len(rows) <= 15
    assert len({row["key"] for row in rows}) == len(rows)
    assert all(ZoneInfo(row["timezone"]) for row in rows)
    assert len({row["timezone"] for row in rows}) >= 8
    assert sum(not row["first_name"] for row in rows) >= 2  # shows `default('there')` at work


def test_an_existing_gitignore_gets_only_what_it_lacks(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n*.db\n.env", "utf-8")

    init_project(tmp_path, template="intro")

    lines = (tmp_path / ".gitignore").read_text("utf-8").splitlines()
    assert lines[:3] == ["node_modules/", "*.db", ".env"]  # the repository's own, untouched
    assert lines.count("*.db") == 1 and lines.count(".env") == 1
    assert {"seqctl.db", "outbox.jsonl", "*.db-wal", "*.env"} <= set(lines)
