"""The JSON Schemas in seqctl/schemas: well-formed, documented, strict where it matters."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

SCHEMA_NAMES = ["sequence.schema.json", "config.schema.json"]


def load_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (files("seqctl") / "schemas" / name).read_text(encoding="utf-8")
    )
    return schema


class _PlaybookLoader(yaml.SafeLoader):
    """Safe loading as a playbook should be read: YAML 1.2 booleans, dates stay strings.

    Plain yaml.safe_load follows YAML 1.1, where the key `on:` is the boolean True
    and `at: 2026-11-01` a datetime.date.
    """


_PlaybookLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PlaybookLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_PlaybookLoader)  # a SafeLoader subclass: safe


def errors(name: str, instance: Any) -> list[tuple[list[str | int], str]]:
    validator = Draft202012Validator(load_schema(name))
    return sorted(
        ((list(e.absolute_path), str(e.validator)) for e in validator.iter_errors(instance)),
        key=str,
    )


# --------------------------------------------------------------------------- shape of the files

# Keywords whose subschemas describe what a user writes (and so need help text), as opposed to
# `if` and `not`, which are predicates over it.
_MAP_KEYWORDS = ("properties", "$defs", "patternProperties", "dependentSchemas")
_ONE_KEYWORDS = ("items", "additionalProperties", "then", "else", "contains", "propertyNames")
_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
# A `then` or `else` without a `type` is an overlay: extra constraints on the object it sits in.
_OVERLAYS = ("then", "else")


def walk(
    schema: Any, pointer: str = "#", *, overlay: bool = False
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """Yield (JSON pointer, subschema, is an if/then overlay) for each subschema a user fills in."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema, overlay
    for keyword in _MAP_KEYWORDS:
        for key, sub in schema.get(keyword, {}).items():
            yield from walk(sub, f"{pointer}/{keyword}/{key}", overlay=overlay)
    for keyword in _ONE_KEYWORDS:
        if keyword in schema:
            yield from walk(
                schema[keyword],
                f"{pointer}/{keyword}",
                overlay=overlay or (keyword in _OVERLAYS and "type" not in schema[keyword]),
            )
    for keyword in _LIST_KEYWORDS:
        for index, sub in enumerate(schema.get(keyword, [])):
            yield from walk(sub, f"{pointer}/{keyword}/{index}", overlay=overlay)


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://seqctl.dev/schemas/v1/{name}"
    assert schema["title"]
    assert re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", schema["x-seqctl-schema-version"])


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_file_is_pretty_printed_with_two_spaces(name: str) -> None:
    text = (files("seqctl") / "schemas" / name).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.splitlines()[1].startswith('  "$schema"')
    assert all((len(line) - len(line.lstrip(" "))) % 2 == 0 for line in text.splitlines())


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_property_and_definition_has_a_description(name: str) -> None:
    missing = []
    for pointer, sub, _overlay in walk(load_schema(name)):
        for keyword in ("properties", "$defs"):
            for key, prop in sub.get(keyword, {}).items():
                if not isinstance(prop, dict) or not str(prop.get("description", "")).strip():
                    missing.append(f"{pointer}/{keyword}/{key}")
    assert missing == []


# A channel is closed by the branch its `kind` selects (each of smtp_channel, webhook_channel,
# file_channel has additionalProperties: false); test_unknown_channel_key_fails checks it.
_CLOSED_BY_BRANCH = {
    ("config.schema.json", "#/$defs/channel"),
    # Named channels (for notifications) are allowed; each is a closed channel object.
    ("config.schema.json", "#/properties/channels"),
}


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_every_object_with_properties_rejects_unknown_keys(name: str) -> None:
    open_objects = [
        pointer
        for pointer, sub, overlay in walk(load_schema(name))
        if "properties" in sub
        and not overlay
        and sub.get("additionalProperties") is not False
        and (name, pointer) not in _CLOSED_BY_BRANCH
    ]
    assert open_objects == []


def test_no_config_property_takes_a_secret_directly() -> None:
    secretish = re.compile(r"pass|secret|token|api_?key|credential", re.IGNORECASE)
    names = {
        key
        for _pointer, sub, _overlay in walk(load_schema("config.schema.json"))
        for key in sub.get("properties", {})
    }
    assert {"password_env", "secret_env"} <= names
    assert [n for n in names if secretish.search(n) and not n.endswith("_env")] == []


# --------------------------------------------------------------------------- playbooks

DESIGN_EXAMPLE = """\
# yaml-language-server: $schema=../schemas/sequence.schema.json
sequence: welcome-renovation        # id: lowercase slug, unique in the repo
name: Welcome new renovation leads
description: Say hello, wait three days, follow up.
target: contact
owner: ana@acme.test
visibility: company
timezone: America/Sao_Paulo
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
holidays: {country: BR, dates: ["2026-12-24"]}
approval: required
consent: {by: ana@acme.test, at: "2026-11-01"}
auto_approve: [{step: follow-up, max_per_day: 50}]
on: {reply: exit, bounce: exit, open: continue, meeting_booked: exit}
limits: {per_day: 200}
sender: {name: Ana, email: ana@acme.test}
steps:
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name | default('there') }}"
    body: |
      Hi {{ contact.first_name | default('there') }}, ...
  - type: wait
    wait: 3 days
  - id: follow-up
    type: email
    mode: manual
    template: follow-up.md.j2
  - id: call
    type: call
    wait: 1 day
    instructions: Ask about the budget.
"""

# Every other key of the format, in one playbook.
FULL_PLAYBOOK = """\
sequence: reactivation
target: deal
owner: ana@acme.test
visibility: team
teams: [sales-br]
timezone: Europe/Lisbon
use_contact_timezone: false
send_window: {days: [mon, wed, fri], start: "08:30", end: "24:00"}
holidays: {country: PT, subdivision: "11", dates: ["2026-12-24", "2026-12-31"]}
approval: auto
consent: {by: ana@acme.test, at: 2026-11-01, note: TICKET-12}
on:
  reply: {action: pause, days: 7, set: {stage: replied, score: 3, hot: true, lost_reason: null}}
  out_of_office: {action: pause, days: 5}
  unsubscribe: {action: exit, set: {subscribed: false}}
  inbound: continue
  click: continue
exclusive: true
reenroll: after_exit
enroll_when: "contact.stage == 'lost' and contact.amount > 1000"
contact_fields: {email: work_email, phone: mobile, timezone: tz}
steps:
  - {id: day-one, name: First touch, type: whatsapp, day: 1, body: "Oi {{ contact.name }}",
     whatsapp_template: {name: reactivation_v2, language: pt_BR, params: ["{{ contact.name }}"]}}
  - id: ask
    type: email
    wait: 2bd
    channel: email
    subject: Still looking?
    template: reactivation/ask.md.j2
    html: "<p>Still looking?</p>"
    attachments: [files/brochure.pdf]
    compose: {mode: assisted, command: [./bin/draft, --tone, warm], timeout: 20}
  - {id: check, type: branch, if: "contact.replied", then: thanks, else: nudge}
  - {id: nudge, type: sms, wait: 30m, body: "Quick one: still interested?"}
  - {id: wait-a-week, type: wait, wait: 1 week}
  - {id: crm, type: webhook, url: "https://crm.test/hooks/{{ contact.key }}",
     payload: {event: nudged, tags: [a, b], nested: {ok: true}}}
  - {id: thanks, type: task, mode: manual, assignee: bob@acme.test, instructions: Say thanks.}
  - {id: tg, type: telegram, wait: " 3 hours ", compose: {mode: full, command: "draft --short"}}
"""


def test_design_example_playbook_is_valid() -> None:
    assert errors("sequence.schema.json", load_yaml(DESIGN_EXAMPLE)) == []


def test_every_key_of_the_format_in_one_valid_playbook() -> None:
    assert errors("sequence.schema.json", load_yaml(FULL_PLAYBOOK)) == []


def _playbook(steps: str, top: str = "") -> str:
    return f"sequence: welcome\n{top}steps:\n{steps}"


_HELLO = "  - {id: hello, type: email, subject: Hi, body: Hello}\n"

INVALID_PLAYBOOKS = [
    pytest.param(
        _playbook("  - {type: email, subjet: Hi, body: Hello}\n"),
        ["steps", 0],
        "additionalProperties",
        id="typo-subjet-on-a-step",
    ),
    pytest.param(
        _playbook(_HELLO, "stesp_per_day: 3\n"),
        [],
        "additionalProperties",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "sequence: Welcome_Renovation\nsteps:\n" + _HELLO,
        ["sequence"],
        "pattern",
        id="slug-with-capitals-and-underscore",
    ),
    pytest.param(
        "sequence: " + "a" * 65 + "\nsteps:\n" + _HELLO,
        ["sequence"],
        "maxLength",
        id="slug-too-long",
    ),
    pytest.param(
        _playbook(_HELLO, 'send_window: {days: [mon], start: "9:00", end: "18:00"}\n'),
        ["send_window", "start"],
        "pattern",
        id="start-without-leading-zero",
    ),
    pytest.param(
        _playbook(_HELLO, 'send_window: {start: "09:00", end: "24:30"}\n'),
        ["send_window", "end"],
        "pattern",
        id="end-past-midnight",
    ),
    pytest.param(
        _playbook(_HELLO, "send_window: {days: [monday, tue]}\n"),
        ["send_window", "days", 0],
        "enum",
        id="weekday-spelled-out",
    ),
    pytest.param(
        _playbook(_HELLO, "send_window: {days: []}\n"),
        ["send_window", "days"],
        "minItems",
        id="window-with-no-days",
    ),
    pytest.param(
        _playbook(_HELLO + "  - {type: wait, wait: 3 dais}\n"),
        ["steps", 1, "wait"],
        "pattern",
        id="wait-3-dais",
    ),
    pytest.param(
        _playbook(_HELLO, "visibility: public\n"),
        ["visibility"],
        "enum",
        id="visibility-public",
    ),
    pytest.param(
        _playbook(_HELLO, "visibility: team\n"),
        [],
        "required",
        id="team-visibility-without-teams",
    ),
    pytest.param("sequence: welcome\nname: Welcome\n", [], "required", id="missing-steps"),
    pytest.param("sequence: welcome\nsteps: []\n", ["steps"], "minItems", id="empty-steps"),
    pytest.param(
        _playbook(_HELLO + "  - {type: branch, if: contact.vip}\n"),
        ["steps", 1],
        "required",
        id="branch-without-then",
    ),
    pytest.param(
        _playbook("  - {type: email, then: hello, body: Hi}\n"),
        ["steps", 0, "then"],
        "not",
        id="then-on-an-email-step",
    ),
    pytest.param(
        _playbook("  - {type: email, body: Hi, template: hello.md.j2}\n"),
        ["steps", 0],
        "not",
        id="body-and-template-together",
    ),
    pytest.param(
        _playbook(_HELLO + "  - {type: wait}\n"),
        ["steps", 1],
        "anyOf",
        id="wait-step-without-wait-or-day",
    ),
    pytest.param(
        _playbook("  - {type: email, wait: 2 days, day: 3, body: Hi}\n"),
        ["steps", 0],
        "not",
        id="wait-and-day-together",
    ),
    pytest.param(
        _playbook("  - {type: call, mode: auto, instructions: Call}\n"),
        ["steps", 0, "mode"],
        "const",
        id="automatic-call",
    ),
    pytest.param(
        _playbook("  - {type: letter, body: Hi}\n"),
        ["steps", 0, "type"],
        "enum",
        id="unknown-step-type",
    ),
    pytest.param(
        _playbook("  - {id: Hello, type: email, body: Hi}\n"),
        ["steps", 0, "id"],
        "pattern",
        id="step-id-with-capital",
    ),
    pytest.param(
        _playbook("  - {type: email, template: ../../etc/passwd}\n"),
        ["steps", 0, "template"],
        "pattern",
        id="template-outside-templates",
    ),
    pytest.param(
        _playbook("  - {type: email, body: Hi, compose: {mode: full}}\n"),
        ["steps", 0, "compose"],
        "required",
        id="compose-without-command",
    ),
    pytest.param(
        _playbook("  - {type: whatsapp, body: Hi, whatsapp_template: {name: hi}}\n"),
        ["steps", 0, "whatsapp_template"],
        "required",
        id="whatsapp-template-without-language",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {reply: stop}\n"),
        ["on", "reply"],
        "enum",
        id="reply-stop",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {open: {action: wait}}\n"),
        ["on", "open", "action"],
        "enum",
        id="rule-object-with-unknown-action",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {click: {action: exit, sett: {stage: x}}}\n"),
        ["on", "click"],
        "additionalProperties",
        id="rule-object-with-typo",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {click: 3}\n"),
        ["on", "click"],
        "enum",
        id="rule-neither-word-nor-object",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {replied: exit}\n"),
        ["on"],
        "additionalProperties",
        id="unknown-event",
    ),
    pytest.param(
        _playbook(_HELLO, "on: {out_of_office: {action: pause, days: 0}}\n"),
        ["on", "out_of_office", "days"],
        "minimum",
        id="pause-for-zero-days",
    ),
    pytest.param(
        _playbook(_HELLO, "holidays: {country: B}\n"),
        ["holidays", "country"],
        "minLength",
        id="country-too-short",
    ),
    pytest.param(
        _playbook(_HELLO, "holidays: {dates: [24/12/2026]}\n"),
        ["holidays", "dates", 0],
        "pattern",
        id="holiday-not-iso",
    ),
    pytest.param(
        _playbook(_HELLO, "consent: {by: ana@acme.test}\n"),
        ["consent"],
        "required",
        id="consent-without-date",
    ),
    pytest.param(
        _playbook(_HELLO, "auto_approve: [{step: hello, max_per_day: 0}]\n"),
        ["auto_approve", 0, "max_per_day"],
        "minimum",
        id="auto-approve-zero-a-day",
    ),
    pytest.param(
        _playbook(_HELLO, "limits: {per_day: 0}\n"),
        ["limits", "per_day"],
        "minimum",
        id="limit-zero",
    ),
    pytest.param(
        _playbook(_HELLO, "sender: {name: Ana}\n"),
        ["sender"],
        "required",
        id="sender-without-email",
    ),
    pytest.param(
        _playbook(_HELLO, "target: person\n"),
        ["target"],
        "enum",
        id="unknown-target",
    ),
    pytest.param(
        _playbook(_HELLO, "use_contact_timezone: no\n"),
        ["use_contact_timezone"],
        "type",
        id="yaml-1.1-no-is-not-a-boolean",
    ),
]


@pytest.mark.parametrize(("source", "path", "validator"), INVALID_PLAYBOOKS)
def test_invalid_playbook_fails_at_the_expected_path(
    source: str, path: list[str | int], validator: str
) -> None:
    assert errors("sequence.schema.json", load_yaml(source)) == [(path, validator)]


@pytest.mark.parametrize(
    "wait",
    ["30m", "3h", "2d", "2bd", "1w", "1 minute", "45 mins", "2 hrs", "1 hour", "3 days",
     "1 business day", "2 business days", "1 week", "10 weeks", " 3 days "],
)  # fmt: skip
def test_wait_forms_of_the_design_are_accepted(wait: str) -> None:
    source = _playbook(f"  - {{type: wait, wait: '{wait}'}}\n")
    assert errors("sequence.schema.json", load_yaml(source)) == []


@pytest.mark.parametrize(
    "wait",
    ["3 dais", "3", "days", "-1 days", "1.5 days", "3 Days", "2 businessdays", "3 days later"],
)
def test_wait_forms_outside_the_grammar_are_rejected(wait: str) -> None:
    source = _playbook(f"  - {{type: wait, wait: '{wait}'}}\n")
    assert errors("sequence.schema.json", load_yaml(source)) == [(["steps", 0, "wait"], "pattern")]


def test_duration_pattern_is_the_one_the_wait_parser_documents() -> None:
    from seqctl.durations import DURATION_PATTERN

    schema = load_schema("sequence.schema.json")
    assert schema["$defs"]["duration"]["pattern"] == DURATION_PATTERN


# --------------------------------------------------------------------------- seqctl.yaml

DESIGN_CONFIG = """\
database: seqctl.db
channels:
  email: {kind: smtp, host: 127.0.0.1, port: 2525, security: none, username_env: SMTP_USER, password_env: SMTP_PASSWORD, from: "Ana <ana@acme.test>"}
  sms: {kind: webhook, url: "http://127.0.0.1:8099/sms", secret_env: SMS_WEBHOOK_SECRET}
  whatsapp: {kind: webhook, url: "http://127.0.0.1:8099/whatsapp", secret_env: WA_SECRET}
  default: {kind: file, path: outbox.jsonl}
senders: {"ana@acme.test": {per_day: 100}}
"""  # noqa: E501 - verbatim from DESIGN.md

FULL_CONFIG = """\
database: data/seqctl.db
playbooks: cadences
channels:
  email: {kind: smtp, host: smtp.acme.test, port: 465, security: tls, timeout: 10.5,
          unsubscribe_url: "https://acme.test/u/{contact}"}
  telegram: {kind: webhook, url: "https://bot.acme.test/send", timeout: 5,
             headers: {X-Team: sales, Accept: application/json}}
  webhook: {kind: webhook, url: "https://crm.acme.test/hook"}
senders: {"ana@acme.test": {per_day: 100}, "bob@acme.test": {per_day: 40}}
teams: {sales-br: [ana@acme.test, bob@acme.test], support: []}
default_sequence: intro
tracking: {base_url: "https://t.acme.test", secret_env: TRACKING_SECRET}
notifications: {channel: email, to: sales@acme.test}
"""


def test_design_example_config_is_valid() -> None:
    assert errors("config.schema.json", load_yaml(DESIGN_CONFIG)) == []


def test_every_key_of_the_config_in_one_valid_file() -> None:
    assert errors("config.schema.json", load_yaml(FULL_CONFIG)) == []


INVALID_CONFIGS = [
    pytest.param(
        "channels: {email: {kind: smtp, host: smtp.acme.test, username: ana, password: x}}\n",
        ["channels", "email"],
        "additionalProperties",
        id="password-in-the-file",
    ),
    pytest.param(
        "channels: {sms: {kind: webhook, url: 'https://x.test', secret: abc}}\n",
        ["channels", "sms"],
        "additionalProperties",
        id="webhook-secret-in-the-file",
    ),
    pytest.param(
        "tracking: {base_url: 'https://t.test', secret: abc}\n",
        ["tracking"],
        "additionalProperties",
        id="tracking-secret-in-the-file",
    ),
    pytest.param(
        "channels: {email: {kind: smtp, host: h, password_env: 'hunter 2'}}\n",
        ["channels", "email", "password_env"],
        "pattern",
        id="password-env-holding-a-value",
    ),
    pytest.param(
        "channels: {email: {kind: sendgrid}}\n",
        ["channels", "email", "kind"],
        "enum",
        id="unknown-channel-kind",
    ),
    pytest.param(
        "channels: {email: {host: h}}\n",
        ["channels", "email"],
        "required",
        id="channel-without-kind",
    ),
    pytest.param(
        "channels: {email: {kind: smtp, host: h, port: 70000}}\n",
        ["channels", "email", "port"],
        "maximum",
        id="port-out-of-range",
    ),
    pytest.param(
        "channels: {email: {kind: smtp, host: h, security: ssl}}\n",
        ["channels", "email", "security"],
        "enum",
        id="security-ssl",
    ),
    pytest.param(
        "channels: {sms: {kind: webhook}}\n",
        ["channels", "sms"],
        "required",
        id="webhook-without-url",
    ),
    pytest.param(
        "channels: {Mail: {kind: file}}\n",
        ["channels"],
        "pattern",
        id="channel-name-not-lowercase",
    ),
    pytest.param(
        "senders: {ana@acme.test: {per_day: 0}}\n",
        ["senders", "ana@acme.test", "per_day"],
        "minimum",
        id="sender-limit-zero",
    ),
    pytest.param(
        "default_sequence: Intro Sequence\n",
        ["default_sequence"],
        "pattern",
        id="default-sequence-not-a-slug",
    ),
    pytest.param("tracking: {secret_env: T}\n", ["tracking"], "required", id="tracking-no-url"),
    pytest.param("databse: x.db\n", [], "additionalProperties", id="typo-databse"),
]


@pytest.mark.parametrize(("source", "path", "validator"), INVALID_CONFIGS)
def test_invalid_config_fails_at_the_expected_path(
    source: str, path: list[str | int], validator: str
) -> None:
    assert errors("config.schema.json", load_yaml(source)) == [(path, validator)]


@pytest.mark.parametrize("kind", ["smtp", "webhook", "file"])
def test_unknown_channel_key_fails(kind: str) -> None:
    channel = {"kind": kind, "host": "h", "url": "https://x.test", "path": "o.jsonl"}
    allowed = {"smtp": "host", "webhook": "url", "file": "path"}[kind]
    channel = {k: v for k, v in channel.items() if k in ("kind", allowed)} | {"colour": "red"}
    found = errors("config.schema.json", {"channels": {"default": channel}})
    assert found == [(["channels", "default"], "additionalProperties")]
