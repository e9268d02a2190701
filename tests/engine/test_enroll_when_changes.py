"""`enroll_when` fires when the condition becomes true: by an import, an update, or an
attribute set by another sequence's `on:` rule; never again for an unchanged row."""

from __future__ import annotations

from tests.conftest import BOTH_STORES, Run, Write

pytestmark = BOTH_STORES

CUSTOMERS = """
sequence: onboarding
enroll_when: "contact.status == 'customer'"
{reenroll}steps:
  - id: welcome
    type: task
"""
LEADS = """
sequence: leads
on:
  reply: {action: exit, set: {status: customer}}
steps:
  - id: hello
    type: task
  - id: later
    type: task
    wait: 3 days
"""
T0 = "--now=2026-11-23T08:00:00Z"


def setup(run: Run, write: Write, reenroll: str = "") -> None:
    write("playbooks/onboarding.yaml", CUSTOMERS.format(reenroll=reenroll))
    write("playbooks/leads.yaml", LEADS)
    assert run(T0, "publish").exit_code == 0
    assert run("activate", "onboarding").exit_code == 0
    assert run("activate", "leads").exit_code == 0


def imported(run: Run, write: Write, csv: str, now: str) -> dict[str, int]:
    write("c.csv", csv)
    result = run(now, "contacts", "import", "c.csv", "--json")
    assert result.exit_code == 0, result.stderr
    enrolled: dict[str, int] = result.json["enrolled"]
    return enrolled


def finish(run: Run, contact: str, now: str) -> None:
    """The onboarding task for `contact` is done: the enrollment completes."""
    assert run(now, "tick").exit_code == 0
    actions = run(now, "actions", "--due", "--json").json
    [action] = [a for a in actions if a["contact"] == contact and a["sequence"] == "onboarding"]
    assert run(now, "done", str(action["id"]), "--by", "ana").exit_code == 0


def states(run: Run, contact: str) -> list[tuple[str, str]]:
    rows = run("enrollments", "--contact", contact, "--json").json
    return [(r["sequence"], r["state"]) for r in rows]


def test_an_unchanged_row_imported_again_enrolls_nobody(run: Run, write: Write) -> None:
    setup(run, write)
    row = "key,email,status\nmaria,maria@x.test,customer\n"
    assert imported(run, write, row, T0) == {"onboarding": 1}
    finish(run, "maria", "--now=2026-11-23T09:00:00Z")
    assert states(run, "maria") == [("onboarding", "completed")]
    # The nightly CRM export comes again, Maria unchanged: she is not onboarded a second time.
    assert imported(run, write, row, "--now=2026-11-24T02:00:00Z") == {}
    assert imported(run, write, row, "--now=2026-11-25T02:00:00Z") == {}
    assert states(run, "maria") == [("onboarding", "completed")]


def test_true_again_after_false_follows_reenroll(run: Run, write: Write) -> None:
    setup(run, write)
    customer = "key,email,status\nmaria,maria@x.test,customer\n"
    churned = "key,status\nmaria,churned\n"
    assert imported(run, write, customer, T0) == {"onboarding": 1}
    finish(run, "maria", "--now=2026-11-23T09:00:00Z")
    assert imported(run, write, churned, "--now=2026-11-24T02:00:00Z") == {}
    # Back as a customer: under the default `reenroll: always` she is onboarded again.
    assert imported(run, write, customer, "--now=2026-11-25T02:00:00Z") == {"onboarding": 1}
    assert states(run, "maria") == [("onboarding", "completed"), ("onboarding", "active")]


def test_reenroll_never_still_decides_the_second_time(run: Run, write: Write) -> None:
    setup(run, write, reenroll="reenroll: never\n")
    customer = "key,email,status\nmaria,maria@x.test,customer\n"
    assert imported(run, write, customer, T0) == {"onboarding": 1}
    finish(run, "maria", "--now=2026-11-23T09:00:00Z")
    imported(run, write, "key,status\nmaria,churned\n", "--now=2026-11-24T02:00:00Z")
    assert imported(run, write, customer, "--now=2026-11-25T02:00:00Z") == {}
    assert states(run, "maria") == [("onboarding", "completed")]


def test_a_status_set_by_another_sequences_rule_enrolls(run: Run, write: Write) -> None:
    """Joao replies to the lead sequence; its rule marks him a customer; onboarding starts."""
    setup(run, write)
    assert imported(run, write, "key,email,status\njoao,joao@x.test,lead\n", T0) == {}
    assert run(T0, "enroll", "leads", "--contact", "joao").exit_code == 0
    replied = run("--now=2026-11-23T10:00:00Z", "event", "reply", "--contact", "joao")
    assert replied.exit_code == 0, replied.stderr
    assert states(run, "joao") == [("leads", "exited"), ("onboarding", "active")]
    assert run("contacts", "show", "joao", "--json").json["attributes"]["status"] == "customer"
    # A second reply ends onboarding (a reply exits by default) and sets the same status
    # again: nothing became true, so nobody is enrolled anew.
    run("--now=2026-11-23T11:00:00Z", "event", "reply", "--contact", "joao")
    assert states(run, "joao") == [("leads", "exited"), ("onboarding", "exited")]


def test_a_new_condition_starts_afresh(run: Run, write: Write) -> None:
    """Publishing another enroll_when checks every contact against it from scratch."""
    setup(run, write)
    row = "key,email,status,plan\nmaria,maria@x.test,customer,pro\n"
    assert imported(run, write, row, T0) == {"onboarding": 1}
    finish(run, "maria", "--now=2026-11-23T09:00:00Z")
    write(
        "playbooks/onboarding.yaml",
        CUSTOMERS.format(reenroll="").replace(
            "contact.status == 'customer'", "contact.plan == 'pro'"
        ),
    )
    assert run("--now=2026-11-24T00:00:00Z", "publish").exit_code == 0
    assert imported(run, write, row, "--now=2026-11-24T02:00:00Z") == {"onboarding": 1}
