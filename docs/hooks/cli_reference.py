"""MkDocs hook: the command reference, written from the CLI itself when the site is built.

In docs/reference/cli.md, a line `<!-- cli: NAME -->` (`<!-- cli: contacts -->`) is replaced by
that command's usage, help and options, and those of its subcommands; `<!-- cli: seqctl -->`
by the global options. Every command must be placed exactly once: a command missing from the
page, or a marker naming no command, fails the build. tests/docs/test_reference.py checks the
same without building the site.
"""

from __future__ import annotations

import re
from typing import Any

# Typer carries its own copy of click (typer._click), without click's Group and Argument classes:
# commands are told apart by what they have (a group lists commands, an argument says so).
Command = Any
Context = Any

PAGE = "reference/cli.md"
MARKER = re.compile(r"^<!-- cli: (?P<name>[a-z][a-z -]*|seqctl) -->[ \t]*$", re.MULTILINE)


class ReferenceError(Exception):
    """The page does not place every command exactly once."""


def root() -> Command:
    """The CLI's click group, with every command loaded."""
    import typer.main

    from seqctl.cli import app

    return typer.main.get_command(app)


def is_group(command: Command) -> bool:
    return hasattr(command, "list_commands")


def context(command: Command, name: str, parent: Context | None = None) -> Context:
    return command.context_class(command, info_name=name, parent=parent)


def commands(group: Command | None = None) -> dict[str, Command]:
    """Every visible command, by its name under `seqctl` (`tick`, `events serve`), in order."""
    found: dict[str, Command] = {}

    def walk(prefix: str, command: Command) -> None:
        ctx = context(command, prefix.strip() or "seqctl")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            path = f"{prefix}{name}"
            found[path] = sub
            if is_group(sub):
                walk(f"{path} ", sub)

    walk("", group or root())
    return found


def top_level(markdown: str) -> list[str]:
    """The names of the markers on the page, in order."""
    return [match["name"] for match in MARKER.finditer(markdown)]


def expand(markdown: str) -> str:
    """The page with each marker replaced by its command's reference."""
    group = root()
    every = commands(group)
    placed = top_level(markdown)
    unknown = [name for name in placed if name != "seqctl" and name not in every]
    if unknown:
        raise ReferenceError(f"{PAGE}: no command {', '.join(map(repr, unknown))}")
    covered = [path for path in every if any(_under(path, name) for name in placed)]
    missing = [path for path in every if path not in covered]
    twice = sorted({name for name in placed if placed.count(name) > 1})
    if missing or twice:
        raise ReferenceError(
            f"{PAGE}: commands not placed: {', '.join(missing) or '-'};"
            f" placed twice: {', '.join(twice) or '-'}"
        )
    top = context(group, "seqctl")

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name == "seqctl":
            return _options(group, top)
        return _command(name, every, top)

    return MARKER.sub(replace, markdown)


def _under(path: str, name: str) -> bool:
    return name != "seqctl" and (path == name or path.startswith(f"{name} "))


def _command(name: str, every: dict[str, Command], top: Context) -> str:
    parts: list[str] = []
    for path, command in every.items():
        if not _under(path, name):
            continue
        ctx = top
        for word in path.split():
            ctx = context(ctx.command.get_command(ctx, word), word, ctx)
        level = "#" * (3 + path.count(" "))
        anchor = path.replace(" ", "-")
        pieces = " ".join(command.collect_usage_pieces(ctx))
        parts.append(f"{level} seqctl {path} {{ #{anchor} }}\n")
        parts.append(_help(command.help or command.short_help or ""))
        parts.append(f"```text\nUsage: {ctx.command_path} {pieces}\n```\n")
        if is_group(command):
            subs = [f"[`{path} {sub}`](#{anchor}-{sub})" for sub in command.list_commands(ctx)]
            parts.append(f"Commands: {', '.join(subs)}.\n")
        parts.append(_options(command, ctx))
    return "\n".join(parts)


def _help(text: str) -> str:
    """Click's help text as Markdown: paragraphs kept, `Example:` lines as code."""
    out: list[str] = []
    for paragraph in text.replace("\b\n", "").split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        before, found, example = paragraph.partition("Example:")
        if found and before.strip():
            out.append(_escape(" ".join(before.split())) + "\n")
            paragraph = found + example
        if paragraph.startswith("Example:"):
            example = paragraph.removeprefix("Example:").strip()
            out.append(f"Example:\n\n```console\n{_as_console(example)}\n```\n")
        else:
            out.append(_escape(" ".join(paragraph.split())) + "\n")
    return "\n".join(out)


def _as_console(example: str) -> str:
    lines = [line.strip() for line in example.splitlines() if line.strip()]
    return "\n".join(line if line.startswith("$ ") else f"$ {line}" for line in lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("*", r"\*")


def _options(command: Command, ctx: Context) -> str:
    rows: list[str] = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False) or param.name == "help":
            continue
        argument = param.param_type_name == "argument"
        record = param.get_help_record(ctx)
        if record is None:
            if not argument:
                continue
            record = (param.make_metavar(ctx), getattr(param, "help", None) or "")
        names, meaning = record
        kind = "argument" if argument else "option"
        rows.append(f"- `{names}` ({kind}): {_escape(' '.join(meaning.split())) or '-'}")
    if not rows:
        return ""
    return "\n".join(rows) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """MkDocs event: expand the markers of the command reference."""
    if page.file.src_uri != PAGE:
        return markdown
    try:
        return expand(markdown)
    except ReferenceError as error:
        from mkdocs.exceptions import PluginError

        raise PluginError(str(error)) from error
