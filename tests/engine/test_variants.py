"""A/B variants: each enrollment gets one, by weight, the same on every replay, recorded with
its message; `winner:` ends the test; preview and approvals say which one."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from seqctl.engine.messages.variants import choose, draw, pick, shares
from seqctl.playbook.model import Mode, Step, StepType, Variant
from tests.conftest import Launch, Run, Write
from tests.playbooks import auto_playbook

# Critical values of the chi-square distribution at p = 0.001, by degrees of freedom: a split
# this far from the weights happens by chance once in a thousand tests.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}


def ab_playbook(weights: tuple[int, ...] = (70, 30), *, extra: str = "", winner: str = "") -> str:
    ids = "abcde"
    listed = "".join(
        f"      - id: {ids[n]}\n        weight: {w}\n"
        + (f'        subject: "Variant {ids[n]} for {{{{ contact.first_name }}}}"\n' if n else "")
        for n, w in enumerate(weights)
    )
    return auto_playbook(
        "ab",
        f"""
  - id: hello
    type: email
    subject: "Hi {{{{ contact.first_name }}}}"
    body: "Hello {{{{ contact.first_name }}}}."
    variants:
{listed}{winner}{extra}""",
    )


def contacts(n: int) -> str:
    return "key,email,first_name\n" + "".join(f"c{i},c{i}@example.com,N{i}\n" for i in range(n))


def enroll_all(run: Run, write: Write, n: int, at: str = "2026-11-23T09:00:00Z") -> None:
    write("keys.txt", "".join(f"c{i}\n" for i in range(n)))
    result = run(f"--now={at}", "enroll", "ab", "--file", "keys.txt", "--json")
    assert result.json["enrolled"] == n


def variants_sent(run: Run) -> dict[str, str]:
    """contact -> variant of the messages in the outbox."""
    return {m["contact"]: m["variant"] for m in run("messages", "--json").json}


def chi_square(counts: Counter[str], weights: dict[str, float]) -> float:
    total = sum(counts.values())
    return sum((counts[k] - total * w) ** 2 / (total * w) for k, w in weights.items())


@pytest.mark.parametrize("weights", [(70, 30), (1, 1, 1), (5, 3, 1, 1)])
def test_enrollments_split_in_the_proportions_of_the_weights(
    launch: Launch, write: Write, weights: tuple[int, ...]
) -> None:
    n = 3000
    run = launch({"ab": ab_playbook(weights)}, contacts(n))
    enroll_all(run, write, n)
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 0
    counts = Counter(variants_sent(run).values())
    expected = {"abcde"[i]: w / sum(weights) for i, w in enumerate(weights)}
    assert set(counts) == set(expected)
    assert sum(counts.values()) == n
    assert chi_square(counts, expected) < CHI2_999[len(weights) - 1], counts


def test_the_draw_is_uniform_and_pick_follows_the_weights() -> None:
    numbers = [draw("seq", i) for i in range(20_000)]
    assert all(0 <= x < 1 for x in numbers)
    deciles = Counter(int(x * 10) for x in numbers)
    assert chi_square(deciles, dict.fromkeys(range(10), 0.1)) < 27.88  # 9 dof, p = 0.001
    two = (Variant("a", 3.0, {}), Variant("b", 1.0, {}))
    assert [pick(two, x).id for x in (0.0, 0.74, 0.75, 0.999999)] == ["a", "a", "b", "b"]
    assert draw("seq", 7) == draw("seq", 7) != draw("other", 7)


def test_a_replay_gives_every_contact_the_same_variant(
    tmp_path: Path, launch: Launch, write: Write, project: Path, run: Run
) -> None:
    n = 200
    first = launch({"ab": ab_playbook()}, contacts(n))
    enroll_all(first, write, n)
    first("--now=2026-11-23T09:00:00Z", "tick")
    before = variants_sent(first)
    # The same commands on a fresh database: the same draw for each enrollment.
    (project / "seqctl.db").rename(tmp_path / "first.db")
    (project / "outbox.jsonl").unlink()
    assert run("db", "init").exit_code == 0
    assert run("--now=2026-11-23T08:00:00Z", "publish").exit_code == 0
    assert run("activate", "ab").exit_code == 0
    assert run("contacts", "import", "c.csv").exit_code == 0
    enroll_all(run, write, n)
    run("--now=2026-11-23T09:00:00Z", "tick")
    assert variants_sent(run) == before
    # And the outbox line names it, as the channel saw it.
    lines = [json.loads(x) for x in (project / "outbox.jsonl").read_text().splitlines()]
    assert {m["contact"]: m["variant"] for m in lines} == before


def test_content_comes_from_the_variant_over_the_step(launch: Launch, write: Write) -> None:
    run = launch({"ab": ab_playbook((1, 1))}, contacts(40))
    enroll_all(run, write, 40)
    run("--now=2026-11-23T09:00:00Z", "tick")
    outbox = _outbox(run)
    assert {m["variant"] for m in outbox} == {"a", "b"}
    for message in outbox:
        n = message["contact"][1:]
        if message["variant"] == "a":
            assert message["subject"] == f"Hi N{n}"
        else:
            assert message["subject"] == f"Variant b for N{n}"
        assert message["body"] == f"Hello N{n}."  # not given by the variant: the step's


def _outbox(run: Run) -> list[dict[str, Any]]:
    path = Path("outbox.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_winner_ends_the_test_for_new_sends_on_every_version(
    launch: Launch, write: Write
) -> None:
    n = 60
    two_steps = "  - id: follow-up\n    type: email\n    wait: 2 days\n    subject: Again\n"
    two_steps += "    body: Still there?\n    variants:\n      - id: a\n      - id: b\n"
    two_steps += "        body: Any news?\n"
    run = launch({"ab": ab_playbook((1, 1), extra=two_steps)}, contacts(n))
    enroll_all(run, write, n)
    run("--now=2026-11-23T09:00:00Z", "tick")
    first = Counter(variants_sent(run).values())
    assert first["a"] > 10 and first["b"] > 10
    # Variant b of the follow-up won: a new version says so.
    write(
        "playbooks/ab.yaml",
        ab_playbook(
            (1, 1), extra=two_steps.replace("    variants:", "    winner: b\n    variants:")
        ),
    )
    assert run("--now=2026-11-24T09:00:00Z", "publish").exit_code == 0
    # Enrollments on version 1 reach the follow-up: every one gets b.
    assert run("--now=2026-11-25T10:00:00Z", "tick").exit_code == 0
    follow_ups = [m for m in run("messages", "--json").json if m["step"] == "follow-up"]
    assert len(follow_ups) == n
    assert {m["variant"] for m in follow_ups} == {"b"}
    assert {m["body"] for m in _outbox(run) if m["step"] == "follow-up"} == {"Any news?"}


def test_lint_refuses_a_winner_that_is_no_variant(launch: Launch, write: Write) -> None:
    run = launch({"ab": ab_playbook()}, contacts(1))
    write("playbooks/ab.yaml", ab_playbook(winner="    winner: c\n"))
    result = run("lint", "--format", "json")
    assert result.exit_code == 1
    [finding] = result.json
    assert finding["rule"] == "variant-winner"
    assert finding["message"] == "winner 'c' is not a variant of step 'hello' (variants: a, b)"


def test_preview_says_which_variant_a_contact_gets(launch: Launch, write: Write) -> None:
    run = launch({"ab": ab_playbook((1, 1))}, contacts(30))
    enroll_all(run, write, 20)
    run("--now=2026-11-23T09:00:00Z", "tick")
    sent = variants_sent(run)
    for key in ("c0", "c1", "c2", "c3"):
        [entry] = run("preview", "ab", "--contact", key, "--json").json
        assert entry["variant"] == sent[key]
        [entry] = run("preview", "playbooks/ab.yaml", "--contact", key, "--json").json
        assert entry["variant"] == sent[key]
    text = run("preview", "ab", "--contact", "c0").stdout
    assert f"  Variant: {sent['c0']}\n" in text
    # c25 is not enrolled: nobody can tell yet, so both are shown with their shares.
    [entry] = run("preview", "ab", "--contact", "c25", "--json").json
    assert entry["variant"] is None
    assert [(v["id"], v["share"], v["subject"]) for v in entry["variants"]] == [
        ("a", 0.5, "Hi N25"),
        ("b", 0.5, "Variant b for N25"),
    ]
    text = run("preview", "ab", "--contact", "c25").stdout
    assert "  Variant: drawn when c25 is enrolled; one of\n" in text
    assert "  Variant b (50% of enrollments):\n    Subject: Variant b for N25\n" in text


def test_approvals_show_the_variant(launch: Launch, write: Write) -> None:
    held = ab_playbook((1, 1)).replace("approval: auto\n", "")
    run = launch({"ab": held}, contacts(6))
    enroll_all(run, write, 6)
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 0
    waiting = run("approvals", "--json").json
    assert len(waiting) == 6
    for message in waiting:
        expected = "Hi" if message["variant"] == "a" else "Variant b for"
        assert message["subject"].startswith(expected)
    first = waiting[0]
    text = run("approvals").stdout
    assert f"#{first['id']} ab/hello (variant {first['variant']}) email to" in text


def test_a_variant_template_and_attachments_are_published_and_sent(
    launch: Launch, write: Write, project: Path
) -> None:
    write("templates/long.md.j2", "Dear {{ contact.first_name }}, a longer letter.\n")
    write("playbooks/price.txt", "price list\n")
    playbook = auto_playbook(
        "ab",
        """
  - id: hello
    type: email
    subject: Hi
    body: Short.
    variants:
      - id: short
      - id: long
        template: long.md.j2
        attachments: [price.txt]
""",
    )
    run = launch({"ab": playbook}, contacts(30))
    enroll_all(run, write, 30)
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 0
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for message in _outbox(run):
        by_variant.setdefault(message["variant"], []).append(message)
    assert set(by_variant) == {"short", "long"}
    assert {m["body"] for m in by_variant["short"]} == {"Short."}
    assert all("attachments" not in m for m in by_variant["short"])
    for message in by_variant["long"]:
        assert message["body"].endswith(", a longer letter.\n")
        assert [a["name"] for a in message["attachments"]] == ["price.txt"]


def test_choose_without_variants_or_enrollment() -> None:
    plain = Step("hello", StepType.EMAIL, Mode.AUTO, (), None, {"subject": "Hi"})
    assert choose(plain, "seq", 1) is None
    tested = Step(
        "hello",
        StepType.EMAIL,
        Mode.AUTO,
        (),
        None,
        {"variants": [{"id": "a", "weight": 1}, {"id": "b", "weight": 3}], "subject": "Hi"},
    )
    assert choose(tested, "seq", None) is None  # nobody enrolled: not drawn yet
    assert choose(tested, "seq", None, winner="b") == "b"
    assert choose(tested, "seq", 1, winner="gone") in ("a", "b")  # a winner it lacks: ignored
    assert shares(tested) == {"a": 0.25, "b": 0.75}
    with pytest.raises(KeyError):
        tested.with_variant("c")


def test_sequences_show_lists_the_variants_and_the_winner(launch: Launch, write: Write) -> None:
    run = launch({"ab": ab_playbook((70, 30), winner="    winner: b\n")}, contacts(1))
    shown = run("sequences", "show", "ab", "--json").json
    [hello] = shown["steps"]
    assert hello["variants"] == [
        {"id": "a", "name": None, "share": 0.7},
        {"id": "b", "name": None, "share": 0.3},
    ]
    assert hello["winner"] == "b"
    text = run("sequences", "show", "ab").stdout
    assert text.splitlines()[-2].split()[-1] == "VARIANTS"
    assert text.rstrip().endswith("a 70%, b 30%; winner b")
