"""The reference pages are complete: every command, every schema key, every lint rule; and the
README stays short."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from tests.docs import lint_codes, schema_keys
from tests.docs.runner import ROOT

DOCS = ROOT / "docs"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "cli_reference", DOCS / "hooks" / "cli_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_short() -> None:
    size = len((ROOT / "README.md").read_text(encoding="utf-8"))
    assert size < 12_000, f"README.md has {size} characters: move the details to docs/"


def test_the_command_reference_shows_every_command_and_option() -> None:
    hook = _hook()
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    built = hook.expand(page)
    every = hook.commands()
    assert {"tick", "events serve", "contacts import", "db info"} <= set(every)
    for path, command in every.items():
        assert f"seqctl {path} {{ #{path.replace(' ', '-')} }}" in built, path
        section = built.split(f"seqctl {path} {{", 1)[1].split("\n#", 1)[0]
        for param in command.params:
            if param.hidden or param.name == "help" or param.param_type_name == "argument":
                continue
            assert f"`{param.opts[-1]}" in section or any(opt in section for opt in param.opts), (
                f"{path}: {param.opts}"
            )
    assert "<!-- cli:" not in built


def test_the_command_reference_fails_on_a_command_left_out() -> None:
    hook = _hook()
    page = (DOCS / "reference" / "cli.md").read_text(encoding="utf-8")
    with pytest.raises(hook.ReferenceError, match="commands not placed: tick"):
        hook.expand(page.replace("<!-- cli: tick -->", ""))
    with pytest.raises(hook.ReferenceError, match="no command 'tock'"):
        hook.expand(page + "\n<!-- cli: tock -->\n")


@pytest.mark.parametrize(
    ("schema", "page"),
    [("sequence.schema.json", "playbook.md"), ("config.schema.json", "configuration.md")],
)
def test_the_page_names_every_key_of_the_schema_and_no_other(schema: str, page: str) -> None:
    defined = schema_keys.keys(schema_keys.load(ROOT / "schemas" / schema))
    defined[schema.split(".")[0]] = defined.pop("")
    shown = schema_keys.tables(DOCS / "reference" / page)
    for name, keys in defined.items():
        assert name in shown, f"docs/reference/{page}: no table <!-- schema: {name} -->"
        assert not keys - shown[name], f"{page}, {name}: keys not documented: {keys - shown[name]}"
        assert not shown[name] - keys, (
            f"{page}, {name}: keys the schema lacks: {shown[name] - keys}"
        )
    assert not set(shown) - set(defined), f"{page}: tables of nothing in {schema}"


def test_the_schema_tables_are_read_as_written(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- schema: x -->\n\n| key | meaning |\n|---|---|\n"
        "| `a` (`.b`, `[].c`) | text with `code` |\n| `d`, `e` | - |\n\nafter `f`\n",
        encoding="utf-8",
    )
    assert schema_keys.tables(page) == {"x": {"a", "a.b", "a[].c", "d", "e"}}


def test_the_lint_rules_page_lists_every_rule_in_the_code() -> None:
    page = (DOCS / "reference" / "lint-rules.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([a-z-]+)` \|", page, re.MULTILINE))
    in_code = lint_codes.codes()
    assert len(in_code) > 30  # the scan of the source still finds the codes
    assert listed == in_code, (
        f"not on the page: {sorted(in_code - listed)}; not in the code: {sorted(listed - in_code)}"
    )
