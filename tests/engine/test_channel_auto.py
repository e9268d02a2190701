"""`channel: auto` picks a channel the contact can be reached on, in the documented order
(WhatsApp inside its window, else email, else SMS), and falls back rather than failing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from seqctl.engine.incoming.engagement import Engagement
from seqctl.engine.outbox.routing import Undeliverable, route
from seqctl.playbook.model import normalise
from tests.conftest import Launch
from tests.playbooks import auto_playbook

PLAYBOOK = auto_playbook(
    "reach",
    """
  - id: hello
    type: email
    channel: auto
    subject: Hi
    body: "Hi {{ contact.key }}"
""",
)
CONTACTS = (
    "key,email,phone\n"
    "both,both@x.test,+15550101\n"
    "phone-only,,+15550102\n"
    "mail-blocked,mb@blocked.test,+15550103\n"
    "writes-on-wa,wa@x.test,+15550104\n"
    "nothing,,\n"
    "all-blocked,ab@blocked.test,+15550105\n"
)
NOW = "--now=2026-11-23T13:00:00Z"


def test_each_contact_gets_a_channel_they_can_be_reached_on(launch: Launch, project: Path) -> None:
    run = launch({"reach": PLAYBOOK}, CONTACTS)
    assert run(NOW, "suppress", "@blocked.test", "+15550105", "--reason", "legal").exit_code == 0
    inbound = run(
        "--now=2026-11-23T10:00:00Z",
        "event",
        "inbound",
        "--contact",
        "writes-on-wa",
        "--data",
        "channel=whatsapp",
    )
    assert inbound.exit_code == 0
    keys = [line.split(",")[0] for line in CONTACTS.splitlines()[1:]]
    enrolled = run(NOW, "enroll", "reach", *[f"--contact={k}" for k in keys])
    # Only the contact whose every address is suppressed is refused: the others can be reached.
    assert (enrolled.exit_code, enrolled.stderr) == (
        1,
        "refused all-blocked: suppressed: @blocked.test (legal)\n",
    )

    preview = run(NOW, "preview", "reach", "--contact", "mail-blocked")
    assert preview.stdout.splitlines()[1] == (
        "  Channel: sms to +15550103: channel auto chose sms (whatsapp: they have not written on"
        " WhatsApp in the last 24 hours; email: @blocked.test is suppressed)"
    )

    report = run(NOW, "tick", "--json")
    assert (report.json["sent"], report.json["failed"]) == (4, 1)
    lines = (project / "outbox.jsonl").read_text(encoding="utf-8").splitlines()
    sent = {m["contact"]: (m["channel"], m["to"]) for m in map(json.loads, lines)}
    assert sent == {
        "both": ("email", "both@x.test"),
        "phone-only": ("sms", "+15550102"),
        "mail-blocked": ("sms", "+15550103"),
        "writes-on-wa": ("whatsapp", "+15550104"),
    }
    failed = {r["contact"]: r["reason"] for r in run("enrollments", "-s", "failed", "--json").json}
    assert failed == {
        "nothing": "step 'hello': channel auto found no way to reach the contact (whatsapp: they"
        " have not written on WhatsApp in the last 24 hours; email: no email address; sms: no"
        " phone)",
    }


def test_the_order_as_a_pure_function() -> None:
    model = normalise(
        {
            "sequence": "r",
            "contact_fields": {"email": "work"},
            "steps": [{"id": "s", "type": "sms", "channel": "auto", "body": "x"}],
        }
    )
    step = model.steps[0]
    now = datetime(2026, 11, 23, 13, tzinfo=UTC)
    quiet = Engagement(now)
    assert route(model.definition, step, {"work": "W@X.test", "phone": "+1"}, quiet).kind == "email"
    blocked = Engagement(now, blocked=frozenset({"w@x.test"}))
    chosen = route(model.definition, step, {"work": "W@X.test", "phone": "+1"}, blocked)
    assert (chosen.kind, chosen.to) == ("sms", "+1")
    try:
        route(model.definition, step, {"email": "ignored@x.test"}, quiet)
    except Undeliverable as exc:
        assert "email: no work;" in str(exc)
    else:
        raise AssertionError("a contact with no work address and no phone cannot be reached")


def test_every_address_suppressed_fails_with_each_reason() -> None:
    model = normalise(
        {"sequence": "r", "steps": [{"id": "s", "type": "sms", "channel": "auto", "body": "x"}]}
    )
    seen = Engagement(
        datetime(2026, 11, 23, 13, tzinfo=UTC), blocked=frozenset({"@x.test", "+15550100"})
    )
    try:
        route(model.definition, model.steps[0], {"email": "a@x.test", "phone": "+15550100"}, seen)
    except Undeliverable as exc:
        assert str(exc) == (
            "channel auto found no way to reach the contact (whatsapp: they have not written on"
            " WhatsApp in the last 24 hours; email: @x.test is suppressed; sms: +15550100 is"
            " suppressed)"
        )
    else:
        raise AssertionError("every address of the contact is suppressed")
