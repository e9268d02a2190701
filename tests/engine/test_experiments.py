"""Per-variant results in `status`: the counts, the rates, and how sure the difference is."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from seqctl.engine.views import experiments
from tests.conftest import Launch, Write
from tests.engine.test_variants import ab_playbook, contacts, enroll_all


def test_z_test_matches_the_textbook() -> None:
    # 50 of 1000 against 80 of 1000: z = -2.697..., two-sided p = 0.0070
    assert experiments.z_test(50, 1000, 80, 1000) == pytest.approx(0.0070, abs=5e-4)
    assert experiments.z_test(10, 100, 10, 100) == pytest.approx(1.0)
    assert experiments.z_test(0, 0, 3, 10) == 1.0
    assert experiments.z_test(0, 50, 0, 50) == 1.0


def test_the_probability_that_one_beats_the_other_agrees_with_sampling() -> None:
    rng = random.Random(17)
    cases = [(30, 400, 18, 380), (12, 150, 11, 160), (5, 100, 9, 100), (0, 100, 2, 100)]
    for hits_a, sent_a, hits_b, sent_b in cases:
        draws = 20_000
        wins = sum(
            rng.betavariate(1 + hits_a, 1 + sent_a - hits_a)
            > rng.betavariate(1 + hits_b, 1 + sent_b - hits_b)
            for _ in range(draws)
        )
        exact = experiments.probability_higher(hits_a, sent_a, hits_b, sent_b)
        assert exact == pytest.approx(wins / draws, abs=0.01)
        assert exact + experiments.probability_higher(
            hits_b, sent_b, hits_a, sent_a
        ) == pytest.approx(1.0)
    # Past 20,000 events a side, the normal approximation: the same to three places there.
    big = experiments.probability_higher(30_000, 100_000, 29_700, 100_000)
    assert big == pytest.approx(0.9287, abs=1e-3)


def row(vid: str, sent: int, **events: int) -> dict[str, Any]:
    return {"id": vid, "sent": sent, **{m: events.get(m, 0) for m in experiments.METRICS}}


@pytest.mark.parametrize(
    ("rows", "metric", "verdict"),
    [
        (
            [row("a", 500, replied=20), row("b", 500, replied=45)],
            "replied",
            "b's reply rate is higher; over 99% sure",
        ),
        (
            [row("a", 400, replied=20), row("b", 400, replied=33)],
            "replied",
            "b's reply rate is higher; 96% sure",
        ),
        (
            [row("a", 400, replied=20), row("b", 400, replied=24)],
            "replied",
            "no clear difference yet: b's reply rate is higher than a's, but only 73% sure",
        ),
        (
            [row("a", 60, replied=2), row("b", 300, replied=30)],
            "replied",
            "too few to tell (300 and 60 sent, 32 replied; needs 100 sent per variant and 5 "
            "replied)",
        ),
        (
            [row("a", 300, replied=1), row("b", 300, replied=3)],
            "replied",
            "too few to tell (300 and 300 sent, 4 replied; needs 100 sent per variant and 5 "
            "replied)",
        ),
        (
            [row("a", 300, opened=60), row("b", 300, opened=60)],
            "opened",
            "no difference in open rate between a and b",
        ),
        (
            [row("a", 500, bounced=30), row("b", 500, bounced=5), row("c", 500, bounced=12)],
            "bounced",
            "b's bounce rate is the lowest; 95% sure it beats c",
        ),
    ],
)
def test_the_verdict_in_words(rows: list[dict[str, Any]], metric: str, verdict: str) -> None:
    found = experiments.compare(metric, rows)
    assert found is not None
    assert found.verdict == verdict


def test_one_variant_is_no_comparison() -> None:
    assert experiments.compare("replied", [row("a", 500)]) is None


def test_status_shows_each_variant_and_how_sure_the_difference_is(
    launch: Launch, write: Write
) -> None:
    """600 contacts split evenly; a fifth of b's reply and a twentieth of a's."""
    n = 600
    run = launch({"ab": ab_playbook((1, 1))}, contacts(n))
    enroll_all(run, write, n)
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 0
    sent = {m["contact"]: m["variant"] for m in run("messages", "--json").json}
    side = {v: sorted(k for k, x in sent.items() if x == v) for v in ("a", "b")}
    replies = side["a"][::20] + side["b"][::5]
    opens = side["a"][::2] + side["b"][::2]
    lines = [{"type": "reply", "contact": k, "at": "2026-11-24T10:00:00Z"} for k in replies]
    lines += [{"type": "open", "contact": k, "at": "2026-11-23T10:00:00Z"} for k in opens]
    write("events.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    assert run("--now=2026-11-25T00:00:00Z", "events", "import", "events.jsonl").exit_code == 0

    data = run("--now=2026-11-25T00:00:00Z", "status", "ab", "--json").json
    [hello] = data["steps"]
    a, b = hello["variants"]
    expected_a = len(side["a"][::20])
    expected_b = len(side["b"][::5])
    assert (a["id"], a["sent"], a["replied"]) == ("a", len(side["a"]), expected_a)
    assert (b["id"], b["sent"], b["replied"]) == ("b", len(side["b"]), expected_b)
    assert a["sent"] + b["sent"] == hello["sent"] == n
    assert a["replied"] + b["replied"] == hello["replied"]
    assert b["rates"]["replied"] == round(expected_b / len(side["b"]), 3)
    assert (a["share"], b["share"], hello["winner"]) == (0.5, 0.5, None)
    replied = hello["comparison"]["replied"]
    assert (replied["leader"], replied["runner_up"], replied["enough"]) == ("b", "a", True)
    assert replied["probability"] > 0.999 and replied["p_value"] < 0.001
    assert replied["verdict"] == "b's reply rate is higher; over 99% sure"
    assert hello["comparison"]["clicked"]["verdict"].startswith("too few to tell")
    text = run("--now=2026-11-25T00:00:00Z", "status", "ab").stdout
    assert "hello: A/B test\n" in text
    assert "  replies: b's reply rate is higher; over 99% sure\n" in text
    # The period counts too: before the replies came, none.
    early = run("status", "ab", "--until", "2026-11-24T00:00:00Z", "--json").json
    assert [v["replied"] for v in early["steps"][0]["variants"]] == [0, 0]
    assert [v["opened"] for v in early["steps"][0]["variants"]] == [a["opened"], b["opened"]]
