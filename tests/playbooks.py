"""Playbook text the tests share: sequences whose messages go out without a person."""

from __future__ import annotations

# approval: auto sends without a person's OK; lint wants the consent that allows it on record,
# given by the sequence's owner (auto_playbook names ana as the owner unless settings do).
AUTO_SEND = 'approval: auto\nconsent: {by: ana@acme.test, at: "2025-11-01"}\n'
HELLO = """
  - id: hello
    type: email
    subject: Hi
    body: Hello
"""


def auto_playbook(sequence: str, *steps: str, settings: str = "") -> str:
    """The playbook of `sequence`, sending without approval: `settings` lines, then `steps`."""
    listed = "".join(step.lstrip("\n") for step in steps)
    owner = "" if "owner:" in settings else "owner: ana@acme.test\n"
    return f"\nsequence: {sequence}\n{owner}{AUTO_SEND}{settings}steps:\n{listed}"


# From Ana: hello by first name, a call three hours later, a brochure a day after that.
INTRO = auto_playbook(
    "intro",
    """
  - id: hello
    type: email
    subject: "Hi {{ contact.first_name }}"
    body: "Hello {{ contact.first_name }}, this is {{ sender.name }}."
  - type: wait
    wait: 3 hours
  - id: call
    type: call
    instructions: "Call {{ contact.first_name }} about a meeting."
  - type: wait
    wait: 1 day
  - id: brochure
    type: email
    subject: Our brochure
    body: "Here it is, {{ contact.first_name | default('there') }}."
""",
    settings="sender: {name: Ana, email: ana@acme.test}\n",
)
