"""`seqctl report`: a manager's page over a month of activity, whose numbers are exactly those
of `seqctl status --json` for the same period, owner and viewer."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Launch, Run
from tests.engine.month import NOW, Month
from tests.playbooks import INTRO

PERIOD = ("--since", "2026-10-31T18:00:00Z", "--until", NOW)  # the default: 30 days up to now


class DataCells(HTMLParser):
    """Every element with data- attributes: (tag, {name: value}, its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], str]] = []
        self.open: list[int | None] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-") and k != "data-label"}
        if data:
            self.found.append((tag, data, ""))
        if tag not in ("meta", "br", "line"):
            self.open.append(len(self.found) - 1 if data else None)

    def handle_endtag(self, tag: str) -> None:
        if self.open and tag not in ("meta", "br", "line"):
            self.open.pop()

    def handle_data(self, text: str) -> None:
        for index in self.open:
            if index is not None:
                tag, data, seen = self.found[index]
                self.found[index] = (tag, data, seen + text)

    def cells(self, **want: str) -> list[tuple[dict[str, str], str]]:
        return [
            (data, text.strip())
            for _, data, text in self.found
            if all(data.get(k) == v for k, v in want.items())
        ]

    def value(self, **want: str) -> str:
        [(data, _)] = [c for c in self.cells(**want) if set(c[0]) == {*want, "value"}]
        return data["value"]


def parse(html: str) -> DataCells:
    parser = DataCells()
    parser.feed(html)
    return parser


def report(month: Month, *args: str) -> tuple[DataCells, str]:
    out = month.root / "report.html"
    assert month.run("report", "--out", str(out), *args, now=NOW) == f"wrote {out}"
    html = out.read_text(encoding="utf-8")
    return parse(html), html


def assert_matches_status(cells: DataCells, statuses: list[dict[str, Any]]) -> None:
    """Every number the page shows for these sequences is the one status --json gives."""
    totals: Counter[str] = Counter()
    for item in statuses:
        for key, value in item["totals"].items():
            if key != "reply_rate":
                totals[key] += value
        totals["active"] += item["enrollments"]["active"] + item["enrollments"]["waiting"]
    for key in ("active", "sent", "meetings", "bounced", "unsubscribed", "approvals_waiting"):
        assert cells.value(total=key) == str(totals[key]), key
    assert cells.value(total="actions_overdue") == str(totals["actions_overdue"])
    rate = round(totals["replied"] / totals["contacted"], 3) if totals["contacted"] else 0.0
    assert float(cells.value(total="reply_rate")) == rate
    [(sent_chart, _)] = cells.cells(**{"chart-total": "sent"})
    assert sent_chart["value"] == str(totals["sent"])
    days = [d for d, _ in cells.cells(chart="sent")]
    assert sum(int(d["value"]) for d in days) == totals["sent"]
    replies = [d for d, _ in cells.cells(chart="replied")]
    assert sum(int(d["value"]) for d in replies) == totals["replied"]
    for item in statuses:
        name = item["sequence"]
        if not cells.cells(sequence=name):  # a draft, or quiet: one line
            assert cells.cells(draft=name) or cells.cells(quiet=name), name
            continue
        for state, n in item["enrollments"].items():
            shown = cells.cells(sequence=name, state=state)
            assert (shown[0][0]["value"] if shown else "0") == str(n)
        for step in item["steps"]:
            for column in ("reached", "sent", "opened", "clicked", "replied", "bounced"):
                found = cells.value(sequence=name, step=step["id"], count=column)
                assert found == str(step[column]), (name, step["id"], column)
            for variant in step.get("variants", []):
                for column in ("sent", "opened", "clicked", "replied", "bounced", "unsubscribed"):
                    shown_value = cells.value(
                        sequence=name, step=step["id"], variant=variant["id"], count=column
                    )
                    assert shown_value == str(variant[column]), (name, variant["id"], column)
            for metric, comparison in step.get("comparison", {}).items():
                if metric in ("opened", "clicked", "replied"):
                    [(_, text)] = cells.cells(sequence=name, step=step["id"], metric=metric)
                    assert text.endswith(comparison["verdict"])


def test_the_report_shows_what_status_says_for_the_last_30_days(month: Month) -> None:
    cells, html = report(month)
    statuses = month.run("status", "--json", *PERIOD, now=NOW)
    assert_matches_status(cells, statuses)
    # Sequences with activity first, by their human names, with owner and status.
    sections = [d["sequence"] for d, _ in cells.cells() if set(d) == {"sequence"}]
    assert sections == ["welcome", "renewals"]
    assert '<h3>Welcome new leads <span class="status active">active</span></h3>' in html
    assert "owner ana@acme.test" in html and "owner bob@acme.test" in html
    # The draft nobody is in: one line.
    [(_, line)] = cells.cells(draft="reactivation")
    assert line == "Win back quiet customers reactivation · ana@acme.test · draft"
    # Failures with their reasons, escaped.
    [(_, n)] = cells.cells(sequence="welcome", failure="message")
    assert n == "1" and "mailbox &lt;full&gt; &amp; gone" in html
    [(stuck, n)] = cells.cells(sequence="renewals", failure="enrollment")
    assert "contact.plan" in stuck["reason"] and n == str(statuses[1]["enrollments"]["failed"])
    rejected = sum(int(d["value"]) for d, _ in cells.cells(failure="rejected"))
    assert rejected == sum(s["rejected"] for item in statuses for s in item["steps"]) > 0
    # Actions due, with the contact's name and the assignee, in São Paulo time.
    due = month.run("actions", "--due", "--json", now=NOW)
    assert cells.cells(**{"actions-due": str(len(due))})
    first = next(a for a in due if a["status"] == "overdue")
    assert (
        "Rita" + first["contact"][1:] + ' Customer</td><td data-label="assignee">carl@acme.test'
        in html
    )
    assert "(America/Sao_Paulo)" in html


def test_the_ab_test_split_and_its_rates_are_those_the_month_made(month: Month) -> None:
    statuses = {s["sequence"]: s for s in month.run("status", "--json", *PERIOD, now=NOW)}
    [hello] = [s for s in statuses["welcome"]["steps"] if s["id"] == "hello"]
    split = Counter(month.sent.values())
    assert abs(split["a"] - split["b"]) < 0.15 * len(month.sent)  # 1:1 weights
    replies = Counter(
        e["variant"] for e in month.events if e["type"] == "reply" and e["step"] == "hello"
    )
    failed = Counter(m["variant"] for m in month.run("messages", "--json", "--status", "failed"))
    assert sum(failed.values()) == 1  # the one the provider refused: not counted as sent
    for variant in hello["variants"]:
        sent = split[variant["id"]] - failed[variant["id"]]
        assert variant["sent"] == sent
        assert variant["replied"] == replies[variant["id"]]
        assert variant["rates"]["replied"] == round(replies[variant["id"]] / sent, 3)
    assert hello["comparison"]["replied"]["verdict"] == "b's reply rate is higher; over 99% sure"
    cells, _ = report(month)
    [(_, verdict)] = cells.cells(sequence="welcome", step="hello", metric="replied")
    assert verdict == "Replies: b's reply rate is higher; over 99% sure"


def test_one_owner_and_one_viewer(month: Month) -> None:
    cells, html = report(month, "--owner", "bob@acme.test")
    bob = month.run("status", "--json", "--owner", "bob@acme.test", *PERIOD, now=NOW)
    assert [s["sequence"] for s in bob] == ["renewals"]
    assert_matches_status(cells, bob)
    assert "Welcome new leads" not in html and "owner bob@acme.test" in html
    # Ana may not see Bob's private sequence: neither its numbers nor its actions.
    cells, html = report(month, "--as", "ana@acme.test")
    ana = month.run("status", "--json", "--as", "ana@acme.test", *PERIOD, now=NOW)
    assert [s["sequence"] for s in ana] == ["reactivation", "welcome"]
    assert_matches_status(cells, ana)
    assert "Renewal reminders" not in html and cells.cells(**{"actions-due": "0"})


def test_a_period_and_a_time_zone_the_reader_chooses(month: Month) -> None:
    period = ("--since", "2026-11-10T00:00:00Z", "--until", "2026-11-20T00:00:00Z")
    cells, html = report(month, *period, "--timezone", "Asia/Kolkata")
    assert_matches_status(cells, month.run("status", "--json", *period, now=NOW))
    days = [d["day"] for d, _ in cells.cells(chart="sent")]
    # 10 Nov 00:00 UTC is 05:30 in Kolkata: eleven local days, the first and the last partial.
    assert days[0] == "2026-11-10" and days[-1] == "2026-11-20" and len(days) == 11
    assert "Tue 10 Nov 2026 05:30 to Fri 20 Nov 2026 05:30 (Asia/Kolkata)" in html


def test_bad_options_say_what_is_wrong(month: Month) -> None:
    from typer.testing import CliRunner

    from seqctl.cli import app

    runner = CliRunner()
    base = ["--db", str(month.db), f"--now={NOW}", "report", "--out", str(month.root / "x.html")]
    result = runner.invoke(app, [*base, "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in result.stderr
    result = runner.invoke(app, [*base, "--since", "2026-12-01"])
    assert result.exit_code == 2
    assert "--since 2026-12-01T00:00:00Z is not before --until 2026-11-30T18:00:00Z" in (
        result.stderr
    )


EVIL = "<script>alert(1)</script>"


def test_untrusted_text_is_shown_never_run(launch: Launch, project: Path) -> None:
    contacts = f"key,email,first_name,timezone\nana,ana@example.com,Ana,UTC\n{EVIL},b@x.test,,UTC\n"
    run: Run = launch({"intro": INTRO}, contacts, csv="contacts.csv")
    assert run("--now=2026-11-23T09:00:00Z", "enroll", "intro", "-c", "ana", "-c", EVIL)
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 1  # the render failure
    assert run("--now=2026-11-23T12:00:00Z", "tick").exit_code == 0  # ana's call is due
    assert run("--now=2026-11-24T09:00:00Z", "report", "--out", "r.html").exit_code == 0
    html = (project / "r.html").read_text(encoding="utf-8")
    cells = parse(html)
    assert EVIL not in html and "&lt;script&gt;" in html and cells.scripts == 0
    [(_, n)] = cells.cells(sequence="intro", failure="enrollment")
    assert n == "1"
    assert ">Ana</td>" in html  # the contact of the call, by name
    # Self-contained: nothing to fetch, nothing to run.
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "src=" not in html
    assert "default-src 'none'" in html


def test_report_of_an_empty_database(run: Run, project: Path) -> None:
    assert run("--now=2026-11-24T09:00:00Z", "report").stdout == "wrote report.html\n"
    html = (project / "report.html").read_text(encoding="utf-8")
    assert "No published sequence to show" in html
    cells = parse(html)
    assert cells.cells(**{"actions-due": "0"})
    assert cells.value(total="sent") == "0"
    # 30 days from 09:00 touch 31 dates: the first and the last in part.
    days = [d["day"] for d, _ in cells.cells(chart="sent")]
    assert (len(days), days[0], days[-1]) == (31, "2026-10-25", "2026-11-24")


@pytest.mark.parametrize("args", [(), ("--owner", "nobody@acme.test")])
def test_report_cli_writes_where_asked(run: Run, project: Path, args: tuple[str, ...]) -> None:
    result = run("report", "--out", "missing/r.html", *args)
    assert result.exit_code == 2 and "cannot write missing/r.html" in result.stderr


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 4), (7, 8), (11, 15), (26, 30), (107, 150), (999, 1000), (1001, 1500)]
)
def test_the_count_axis_ends_on_a_round_number(largest: int, top: int) -> None:
    from seqctl.engine.views.report_chart import nice_top

    assert nice_top(largest) == top
