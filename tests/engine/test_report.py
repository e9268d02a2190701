"""`seqctl report`: one offline HTML page whose numbers are exactly those of `seqctl status`."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from seqctl.store import open_store
from tests.browser import chromium, dump_dom
from tests.conftest import Launch, Run
from tests.playbooks import INTRO

EVIL = "<script>alert(1)</script>"
CONTACTS = (
    "key,email,first_name,timezone\n"
    "ana,ana@example.com,Ana,UTC\n"
    f"{EVIL},bob@example.com,,UTC\n"
    "cy,cy@example.com,Cy,UTC\n"
)
NOW = "--now=2026-11-24T09:00:00Z"


class DataCells(HTMLParser):
    """Every element with data- attributes: (tag, {name: value}, its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str], str]] = []
        self.open: list[int | None] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        data = {k[5:]: v or "" for k, v in attrs if k.startswith("data-")}
        if data:
            self.found.append((tag, data, ""))
        self.open.append(len(self.found) - 1 if data else None)

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            self.open.pop()

    def handle_data(self, text: str) -> None:
        if self.open and self.open[-1] is not None:
            tag, data, seen = self.found[self.open[-1]]
            self.found[self.open[-1]] = (tag, data, seen + text)

    def cells(self, **want: str) -> list[tuple[dict[str, str], str]]:
        return [
            (data, text.strip())
            for _, data, text in self.found
            if all(data.get(k) == v for k, v in want.items())
        ]


def parse(html: str) -> DataCells:
    parser = DataCells()
    parser.feed(html)
    return parser


@pytest.fixture
def built(launch: Launch, project: Path) -> Run:
    """ana is sent hello and has a call due; the evil key fails to render; cy joins a day later."""
    run = launch({"intro": INTRO}, CONTACTS, csv="contacts.csv")
    enroll = ("enroll", "intro", "-c", "ana", "-c", EVIL)
    assert run("--now=2026-11-23T09:00:00Z", *enroll).exit_code == 0
    assert run("--now=2026-11-23T09:00:00Z", "tick").exit_code == 1  # the render failure
    assert run("--now=2026-11-23T12:00:00Z", "tick").exit_code == 0  # ana's call is due
    assert run("--now=2026-11-24T08:00:00Z", "enroll", "intro", "-c", "cy").exit_code == 0
    assert run("--now=2026-11-24T08:00:00Z", "tick").exit_code == 0
    # A message the provider refused for good: the CLI reaches this only after days of retries.
    with open_store(project / "seqctl.db") as store:
        [cy] = store.messages(status="sent", sequence="intro")[1:]
        store.set_message_status([cy.id], "failed", error="mailbox <full> & gone")
    return run


def assert_matches_status(cells: DataCells, status: list[dict[str, Any]], due: int) -> None:
    [intro] = status
    for state, n in intro["enrollments"].items():
        assert cells.cells(sequence="intro", state=state)[0][1] == str(n), state
    for step in intro["steps"]:
        for kind in ("sent", "done", "skipped", "failed"):
            [(_, text)] = cells.cells(sequence="intro", step=step["id"], count=kind)
            assert text == str(step[kind]), (step["id"], kind)
            [(bar, _)] = cells.cells(sequence="intro", step=step["id"], kind=kind)
            assert bar["value"] == str(step[kind])
    [(enrolled, _)] = cells.cells(sequence="intro", kind="enrolled")
    assert enrolled["value"] == str(sum(intro["enrollments"].values())) == "3"
    days = {d["day"]: d["value"] for d, _ in cells.cells(sequence="intro") if "day" in d}
    assert days == {"2026-11-23": "2", "2026-11-24": "1"}
    assert cells.cells(**{"actions-due": str(due)})
    assert len([d for d, _ in cells.cells(sequence="intro") if "action" in d]) == due


def test_report_numbers_are_those_of_status(built: Run, project: Path) -> None:
    run = built
    result = run(NOW, "report", "--out", "r.html")
    assert (result.exit_code, result.stdout) == (0, "wrote r.html\n")
    html = (project / "r.html").read_text(encoding="utf-8")
    status = run("status", "--json").json
    due = run(NOW, "actions", "--due", "--json").json
    assert len(due) == 1
    cells = parse(html)
    assert_matches_status(cells, status, len(due))
    # The failures with their reasons, escaped: the contact key is shown, never run.
    [(_, n)] = cells.cells(sequence="intro", failure="enrollment")
    assert n == "1"
    [(message, n)] = cells.cells(sequence="intro", failure="message")
    assert (message["step"], message["reason"], n) == ("hello", "mailbox <full> & gone", "1")
    assert "mailbox &lt;full&gt; &amp; gone" in html
    assert EVIL not in html and "&lt;script&gt;" in html
    assert cells.scripts == 0
    # Self-contained: nothing to fetch.
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<link" not in html and "src=" not in html


def test_report_of_an_empty_database(run: Run, project: Path) -> None:
    assert run("report").stdout == "wrote report.html\n"
    html = (project / "report.html").read_text(encoding="utf-8")
    assert "No published sequence yet" in html
    assert parse(html).cells(**{"actions-due": "0"})


def test_report_renders_in_chromium(built: Run, project: Path, tmp_path_factory: Any) -> None:
    browser = chromium()
    run = built
    assert run(NOW, "report", "--out", "r.html").exit_code == 0
    profile = tmp_path_factory.mktemp("chromium-profile")
    result = dump_dom(
        browser, project / "r.html", profile, "--enable-logging=stderr", "--v=0", timeout=60
    )
    assert result.returncode == 0, result.stderr
    dom = result.stdout
    assert "<svg" in dom and "<rect" in dom
    status = run("status", "--json").json
    due = run(NOW, "actions", "--due", "--json").json
    assert_matches_status(parse(dom), status, len(due))
    assert "Uncaught" not in result.stderr
    # No console message at all: no script error, nothing the page's policy had to block.
    assert ":CONSOLE" not in result.stderr
