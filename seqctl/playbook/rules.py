"""Semantic lint rules: what a schema cannot say. Each rule yields findings for one playbook."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from seqctl import template_checks
from seqctl.durations import Unit, Wait
from seqctl.playbook.files import Sources, read_template
from seqctl.playbook.findings import Finding, Severity
from seqctl.playbook.model import (
    BRANCH_FUNCTIONS,
    COMPOSER_NAME,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS_TOTAL,
    MESSAGE_TYPES,
    SequenceDef,
    StepType,
)
from seqctl.playbook.source import Document
from seqctl.timeutil import is_valid_zone

TEMPLATE_FIELDS = ("subject", "body", "html", "instructions")
MIN_MESSAGE_GAP = timedelta(hours=1)


@dataclass(frozen=True)
class Context:
    """One schema-valid playbook, its model, and where its steps stand in the file."""

    document: Document
    sequence: SequenceDef
    sources: Sources  # where its template and attachment files are, inside its repository
    raw_index: tuple[int, ...]  # for each model step, its index in the file's `steps` list
    now: datetime | None = None  # the lint run's clock (--now, SEQCTL_NOW); None: the real one

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.document.data
        return data

    def step_path(self, model_index: int, *rest: str | int) -> tuple[str | int, ...]:
        return ("steps", self.raw_index[model_index], *rest)


Rule = Callable[[Context], Iterator[Finding]]


def duplicate_steps(ctx: Context) -> Iterator[Finding]:
    seen: dict[str, int] = {}
    for i, raw in enumerate(ctx.data["steps"]):
        step_id = raw.get("id")
        if step_id is None:
            continue
        if step_id in seen:
            first = ctx.document.position(("steps", seen[step_id], "id"))
            yield ctx.document.finding(
                ("steps", i, "id"),
                "duplicate-step",
                f"step id '{step_id}' is already used at line {first.line}",
            )
        else:
            seen[step_id] = i


def branch_targets(ctx: Context) -> Iterator[Finding]:
    ids = [s.id for s in ctx.sequence.steps]
    for i, step in enumerate(ctx.sequence.steps):
        for key in ("then", "else", "next"):
            target = step.spec.get(key)
            if target is None or target in ids or (key == "next" and target == "end"):
                continue
            close = difflib.get_close_matches(str(target), ids, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield ctx.document.finding(
                ctx.step_path(i, key),
                "branch-target",
                f"branch target '{target}' is not a step of this sequence{hint}",
            )


def unreachable_steps(ctx: Context) -> Iterator[Finding]:
    steps = ctx.sequence.steps
    index = {s.id: i for i, s in enumerate(steps)}
    reached: set[int] = set()
    todo = [0]
    while todo:
        i = todo.pop()
        if i in reached or i >= len(steps):
            continue
        reached.add(i)
        step = steps[i]
        following = step.spec.get("next")
        after = i + 1 if following is None else index.get(following, len(steps))
        if step.type is StepType.BRANCH:
            for key in ("then", "else"):
                target = step.spec.get(key)
                todo.append(index.get(target, len(steps)) if target else after)
        else:
            todo.append(after)
    for i, step in enumerate(steps):
        if i not in reached:
            yield ctx.document.finding(
                ctx.step_path(i), "unreachable-step", f"step '{step.id}' can never be reached"
            )


def trailing_wait(ctx: Context) -> Iterator[Finding]:
    steps = ctx.data["steps"]
    if steps and steps[-1].get("type") == StepType.WAIT:
        yield ctx.document.finding(
            ("steps", len(steps) - 1),
            "trailing-wait",
            "the sequence ends with a wait: nothing happens after it",
        )


def templates(ctx: Context) -> Iterator[Finding]:
    for i, step in enumerate(ctx.sequence.steps):
        yield from _content_templates(ctx, step.spec, ctx.step_path(i))


def attachments(ctx: Context) -> Iterator[Finding]:
    for i, step in enumerate(ctx.sequence.steps):
        listed = step.spec.get("attachments") or []
        total = sum(item.get("size", 0) for item in listed)
        if total > MAX_ATTACHMENTS_TOTAL and all(
            item.get("size", 0) <= MAX_ATTACHMENT_BYTES for item in listed
        ):
            yield ctx.document.finding(
                ctx.step_path(i, "attachments"),
                "attachment-size",
                f"the attachments of step '{step.id}' come to {total / 1024 / 1024:.1f} MB: at "
                f"most {MAX_ATTACHMENTS_TOTAL // 1024 // 1024} MB a message (send links instead)",
            )
        for n, item in enumerate(listed):
            yield from _attachment(ctx, ctx.step_path(i, "attachments", n), item)


def variants(ctx: Context) -> Iterator[Finding]:
    """Variant ids are unique in their step, and `winner` names one of them."""
    for i, step in enumerate(ctx.sequence.steps):
        seen: dict[str, int] = {}
        for n, variant in enumerate(step.variants):
            if variant.id in seen:
                first = ctx.document.position(ctx.step_path(i, "variants", seen[variant.id], "id"))
                yield ctx.document.finding(
                    ctx.step_path(i, "variants", n, "id"),
                    "duplicate-variant",
                    f"variant id '{variant.id}' is already used at line {first.line}",
                )
            else:
                seen[variant.id] = n
        winner = step.winner
        if winner is not None and winner not in seen:
            ids = list(seen)
            close = difflib.get_close_matches(winner, ids, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            yield ctx.document.finding(
                ctx.step_path(i, "winner"),
                "variant-winner",
                f"winner '{winner}' is not a variant of step '{step.id}' "
                f"(variants: {', '.join(ids)}){hint}",
            )


def variant_content(ctx: Context) -> Iterator[Finding]:
    """The template and attachment checks of `templates` and `attachments`, run on every
    variant of every step, each finding at its place inside the variant."""
    for i, step in enumerate(ctx.sequence.steps):
        for n, variant in enumerate(step.variants):
            where = ctx.step_path(i, "variants", n)
            yield from _content_templates(ctx, variant.spec, where)
            for k, item in enumerate(variant.spec.get("attachments") or []):
                yield from _attachment(ctx, (*where, "attachments", k), item)


def _content_templates(
    ctx: Context, spec: Mapping[str, Any], path: tuple[str | int, ...]
) -> Iterator[Finding]:
    """The template checks of one step's (or one variant's) content at `path`."""
    for key in TEMPLATE_FIELDS:
        source = spec.get(key)
        if isinstance(source, str):
            yield from _inline_template(ctx, (*path, key), source)
    params = (spec.get("whatsapp_template") or {}).get("params", [])
    for n, param in enumerate(params):
        yield from _inline_template(ctx, (*path, "whatsapp_template", "params", n), str(param))
    name = spec.get("template")
    if name is None:
        return
    located = ctx.sources.template(name)
    if located.problem is not None:
        yield ctx.document.finding((*path, "template"), "template-outside", located.problem)
        return
    found = located.path
    if found is None:
        inside = ctx.sources.repository.contains
        looked = ", ".join(_shown(d) for d in ctx.sources.template_dirs if inside(d))
        yield ctx.document.finding(
            (*path, "template"),
            "template-missing",
            f"template '{name}' not found (looked in {looked})",
        )
        return
    text, unusable = read_template(found)
    if text is None:
        yield ctx.document.finding((*path, "template"), "template-missing", str(unusable))
        return
    for problem in template_checks.check_template(text):
        yield Finding(
            _shown(found),
            problem.line,
            problem.column,
            problem.rule,
            Severity.ERROR,
            problem.message,
        )


def _attachment(
    ctx: Context, path: tuple[str | int, ...], item: Mapping[str, Any]
) -> Iterator[Finding]:
    problem = ctx.sources.attachment(item["name"]).problem
    if problem is not None:
        yield ctx.document.finding(path, "attachment-outside", problem)
    elif "sha256" not in item:
        yield ctx.document.finding(
            path,
            "attachment-missing",
            f"attachment '{item['name']}' not found beside the playbook or in attachments/",
        )
    elif item["size"] > MAX_ATTACHMENT_BYTES:
        yield ctx.document.finding(
            path,
            "attachment-size",
            f"attachment '{item['name']}' is {item['size'] / 1024 / 1024:.1f} MB: "
            f"at most {MAX_ATTACHMENT_BYTES // 1024 // 1024} MB (send a link instead)",
        )


def expressions(ctx: Context) -> Iterator[Finding]:
    if isinstance(ctx.data.get("enroll_when"), str):
        for problem in template_checks.check_expression(ctx.data["enroll_when"]):
            yield ctx.document.finding(("enroll_when",), problem.rule, problem.message)
    for i, step in enumerate(ctx.sequence.steps):
        condition = step.spec.get("if")
        if isinstance(condition, str):
            problems = template_checks.check_expression(condition, extra_roots=BRANCH_FUNCTIONS)
            for problem in problems:
                yield ctx.document.finding(ctx.step_path(i, "if"), problem.rule, problem.message)


def time_zone(ctx: Context) -> Iterator[Finding]:
    name = ctx.data.get("timezone")
    if name is not None and not is_valid_zone(name):
        close = difflib.get_close_matches(str(name), sorted(_zones()), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        yield ctx.document.finding(("timezone",), "timezone", f"unknown time zone '{name}'{hint}")


def holiday_country(ctx: Context) -> Iterator[Finding]:
    spec = ctx.data.get("holidays") or {}
    country = spec.get("country")
    if country is None:
        return
    countries = _countries()
    country = str(country).upper()  # the calendar reads codes in any case
    if country not in countries:
        close = difflib.get_close_matches(str(country).upper(), sorted(countries), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        yield ctx.document.finding(
            ("holidays", "country"),
            "holiday-country",
            f"no public holidays are known for country '{country}'{hint}",
        )
        return
    subdivision = spec.get("subdivision")
    if subdivision is not None and subdivision not in countries[country]:
        known = ", ".join(countries[country][:12]) or "none"
        yield ctx.document.finding(
            ("holidays", "subdivision"),
            "holiday-country",
            f"'{subdivision}' is not a subdivision of {country} (known: {known})",
        )


def send_window(ctx: Context) -> Iterator[Finding]:
    window = ctx.data.get("send_window") or {}
    start, end = window.get("start"), window.get("end")
    if start is not None and end is not None and end != "24:00" and start >= end:
        yield ctx.document.finding(
            ("send_window", "end"),
            "send-window",
            f"the send window ends ({end}) before it starts ({start})",
        )


def message_gap(ctx: Context) -> Iterator[Finding]:
    since_last: timedelta | None = None  # time since the previous message, None before the first
    for i, step in enumerate(ctx.sequence.steps):
        gap = sum((_least_duration(w) for w in step.waits), timedelta())
        if step.day is not None:
            since_last = None
        elif since_last is not None:
            since_last += gap
        if step.type in MESSAGE_TYPES:
            if since_last is not None and since_last < MIN_MESSAGE_GAP:
                yield ctx.document.finding(
                    ctx.step_path(i),
                    "message-gap",
                    f"step '{step.id}' sends {_minutes(since_last)} after the previous message: "
                    "less than 1 hour apart feels like spam",
                    severity=Severity.WARNING,
                )
            since_last = timedelta()


def whatsapp_fallback(ctx: Context) -> Iterator[Finding]:
    for i, step in enumerate(ctx.sequence.steps):
        if step.type is StepType.WHATSAPP and "whatsapp_template" not in step.spec:
            yield ctx.document.finding(
                ctx.step_path(i, "type"),
                "whatsapp-fallback",
                f"WhatsApp step '{step.id}' has no whatsapp_template: it fails for contacts who "
                "have not written in the last 24 hours",
                severity=Severity.WARNING,
            )


def consent(ctx: Context) -> Iterator[Finding]:
    if "consent" in ctx.data:
        return
    hint = "add a consent block naming who authorised it (consent: {by: ..., at: ...})"
    if ctx.data.get("approval") == "auto":
        yield ctx.document.finding(
            ("approval",), "consent", f"approval: auto sends without a person's OK: {hint}"
        )
    elif ctx.data.get("auto_approve"):
        yield ctx.document.finding(
            ("auto_approve",), "consent", f"auto_approve sends steps without a person's OK: {hint}"
        )
    for i, step in enumerate(ctx.sequence.steps):
        if (step.spec.get("compose") or {}).get("mode") == "full":
            yield ctx.document.finding(
                ctx.step_path(i, "compose", "mode"),
                "consent",
                f"compose mode full lets a program write step '{step.id}' alone: {hint}",
            )


def compose_command(ctx: Context) -> Iterator[Finding]:
    """`compose.command` names a composer of seqctl.yaml, never a command line: playbooks come
    from pull requests, and the tick would run the command on its host."""
    for i, step in enumerate(ctx.sequence.steps):
        named = (step.spec.get("compose") or {}).get("command")
        if named is not None and not (isinstance(named, str) and COMPOSER_NAME.fullmatch(named)):
            yield ctx.document.finding(
                ctx.step_path(i, "compose", "command"),
                "compose-command",
                "compose names a command line: name a composer of seqctl.yaml's `composers:` "
                "instead (a playbook never runs a command of its own)",
            )


def auto_approve_steps(ctx: Context) -> Iterator[Finding]:
    ids = [s.id for s in ctx.sequence.steps]
    for n, rule in enumerate(ctx.data.get("auto_approve") or []):
        if rule.get("step") not in ids:
            yield ctx.document.finding(
                ("auto_approve", n, "step"),
                "unknown-step",
                f"auto_approve names step '{rule.get('step')}', which this "
                f"sequence does not have (steps: {', '.join(ids)})",
            )


def unsubscribe_rule(ctx: Context) -> Iterator[Finding]:
    rule = (ctx.data.get("on") or {}).get("unsubscribe")
    action = rule.get("action") if isinstance(rule, dict) else rule
    if action is not None and action != "exit":
        yield ctx.document.finding(
            ("on", "unsubscribe"),
            "unsubscribe-rule",
            "an unsubscribe always ends the sequence: only 'exit' is allowed",
        )


RULES: tuple[Rule, ...] = (
    duplicate_steps, branch_targets, unreachable_steps, trailing_wait, templates, attachments,
    variants, variant_content, expressions,
    time_zone, holiday_country, send_window, message_gap, whatsapp_fallback, consent,
    auto_approve_steps, unsubscribe_rule, compose_command,
)  # fmt: skip


def _inline_template(ctx: Context, path: tuple[str | int, ...], source: str) -> Iterator[Finding]:
    problems = template_checks.check_template(source)
    if not problems:
        return
    scalar = ctx.document.scalar(path)
    for problem in problems:
        if scalar is None:
            yield ctx.document.finding(path, problem.rule, problem.message)
            continue
        line = scalar.content_line + problem.line - 1
        if scalar.style in ("|", ">"):
            column = scalar.content_column + problem.column - 1
        else:
            column = (
                scalar.content_column + problem.column - 1 if problem.line == 1 else problem.column
            )
        yield Finding(
            ctx.document.display, line, column, problem.rule, Severity.ERROR, problem.message
        )


def _least_duration(wait: Wait) -> timedelta:
    """The shortest real time a wait can take (a day can be 23 hours long)."""
    match wait.unit:
        case Unit.MINUTES:
            return timedelta(minutes=wait.amount)
        case Unit.HOURS:
            return timedelta(hours=wait.amount)
        case Unit.WEEKS:
            return timedelta(days=7 * wait.amount - 1)
        case _:
            return timedelta(hours=23 * wait.amount)


def _minutes(gap: timedelta) -> str:
    minutes = int(gap.total_seconds() // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@cache
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


@cache
def _countries() -> dict[str, list[str]]:
    import holidays

    supported: dict[str, list[str]] = holidays.list_supported_countries()
    return supported
