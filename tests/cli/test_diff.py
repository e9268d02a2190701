"""`seqctl diff` shows every changed field with its old and new value, whole, as a reviewer
reads it in a pull request, and the same as JSON."""

from __future__ import annotations

from seqctl.engine.sequences.changes import diff_definitions
from seqctl.playbook.model import normalise
from tests.conftest import Run, Write

NOW = "--now=2026-11-23T12:00:00Z"
PLAYBOOK = """
sequence: welcome
name: Welcome
timezone: America/New_York
send_window: {days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}
steps:
  - id: hello
    type: email
    subject: "Welcome, {{ contact.first_name | default('there') }}"
    body: |
      Hi {{ contact.first_name | default('there') }},

      Thanks for signing up. Here is what happens next.

      Ana
  - id: call
    type: call
    wait: 3 days
    instructions: Ask about the budget.
"""
LONG_SUBJECT = (
    "A subject long enough that any display which cuts values at sixty characters loses it"
)


def published(run: Run, write: Write) -> None:
    write("playbooks/welcome.yaml", PLAYBOOK)
    assert run(NOW, "publish").exit_code == 0


def test_a_window_start_and_a_wait_show_old_and_new(run: Run, write: Write) -> None:
    published(run, write)
    changed = PLAYBOOK.replace('start: "09:00"', 'start: "10:00"').replace("3 days", "2 days")
    write("playbooks/welcome.yaml", changed)
    assert run(NOW, "diff").stdout.splitlines() == [
        "welcome: version 1 -> version 2",
        '  ~ send_window.start: "09:00" -> "10:00"',
        '  ~ step \'call\' wait: ["3 days"] -> ["2 days"]',
    ]


def test_a_changed_body_is_shown_whole_with_its_changed_lines_marked(
    run: Run, write: Write
) -> None:
    published(run, write)
    write(
        "playbooks/welcome.yaml",
        PLAYBOOK.replace("Here is what happens next.", "Here is what happens in the next days.")
        .replace('subject: "Welcome', f'subject: "{LONG_SUBJECT}')
        .replace(
            "  - id: call\n",
            "  - id: nudge\n    type: sms\n    wait: 1 day\n"
            "    body: Did you see my email?\n  - id: call\n",
        ),
    )
    lines = run(NOW, "diff").stdout.splitlines()
    assert lines == [
        "welcome: version 1 -> version 2",
        "  ~ step 'hello' body:",
        "        Hi {{ contact.first_name | default('there') }},",
        "",
        "      - Thanks for signing up. Here is what happens next.",
        "      + Thanks for signing up. Here is what happens in the next days.",
        "",
        "        Ana",
        f"  ~ step 'hello' subject: \"Welcome, {{{{ contact.first_name | default('there') }}}}\""
        f" -> \"{LONG_SUBJECT}, {{{{ contact.first_name | default('there') }}}}\"",
        "  + step 'nudge' (sms, position 2):",
        '      type: "sms"',
        '      mode: "auto"',
        '      wait: ["1 day"]',
        '      body: "Did you see my email?"',
    ]


def test_format_json_and_its_alias(run: Run, write: Write) -> None:
    published(run, write)
    write("playbooks/welcome.yaml", PLAYBOOK.replace('start: "09:00"', 'start: "10:00"'))
    shown = run(NOW, "diff", "--format", "json")
    assert shown.exit_code == 0
    assert run(NOW, "diff", "--json").json == shown.json
    [item] = shown.json
    assert (item["sequence"], item["version"], item["changed"]) == ("welcome", 2, True)
    assert item["changes"] == ['~ send_window.start: "09:00" -> "10:00"']
    assert item["details"] == [
        {"kind": "~", "step": None, "field": "send_window.start", "old": "09:00", "new": "10:00"}
    ]


def test_removed_steps_new_settings_and_order() -> None:
    old = normalise(
        {
            "sequence": "s",
            "steps": [
                {"id": "a", "type": "task"},
                {"id": "b", "type": "call"},
                {"id": "c", "type": "call"},
            ],
        }
    ).definition
    new = normalise(
        {
            "sequence": "s",
            "holidays": {"country": "BR"},
            "steps": [{"id": "c", "type": "call"}, {"id": "a", "type": "task"}],
        }
    ).definition
    assert [str(c) for c in diff_definitions(old, new)] == [
        '~ holidays: (none) -> {"country": "BR"}',
        "- step 'b': call",
        '~ step order: ["a", "c"] -> ["c", "a"]',
    ]


def test_a_first_publish_is_a_new_sequence(run: Run, write: Write) -> None:
    write("playbooks/welcome.yaml", PLAYBOOK)
    assert run(NOW, "diff").stdout.splitlines() == [
        "welcome: nothing published -> version 1",
        "  + sequence: new, 2 steps (hello, call)",
    ]
