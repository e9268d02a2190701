"""Long work shows a running count on a terminal and stays quiet under cron (no TTY)."""

from __future__ import annotations

import io
from contextlib import AbstractContextManager

import pytest

from seqctl.cli import contacts as contacts_cli
from seqctl.cli import enroll as enroll_cli
from seqctl.cli import tick as tick_cli
from seqctl.cli.progress import Progress, progress
from tests.conftest import Run, Write

ENROLL_AT = "--now=2026-11-23T12:00:00Z"
TICK_AT = "--now=2026-11-23T12:05:00Z"
WELCOME = """
sequence: welcome
steps:
  - id: hello
    type: email
    subject: Welcome
    body: Hi!
"""
LEADS = """
key,email,first_name
ana,ana@acme.test,Ana
ben,ben@acme.test,Ben
cleo,cleo@acme.test,Cleo
"""


class Terminal(io.StringIO):
    """What a terminal looks like to the reporter."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def published(run: Run, write: Write) -> None:
    """A live sequence and three contacts (imported with the CLI: stderr checked on the way)."""
    write("playbooks/welcome.yaml", WELCOME)
    write("leads.csv", LEADS)
    for args in (("publish",), ("activate", "welcome"), ("contacts", "import", "leads.csv")):
        result = run(ENROLL_AT, *args)
        assert (result.exit_code, result.stderr) == (0, ""), result.stderr


def test_import_writes_nothing_on_stderr_without_a_terminal(run: Run, write: Write) -> None:
    write("leads.csv", LEADS)
    result = run(ENROLL_AT, "contacts", "import", "leads.csv")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "imported 3 contacts (3 new, 0 updated)\n",
        "",
    )


def test_enroll_and_tick_write_nothing_on_stderr_without_a_terminal(
    run: Run, published: None
) -> None:
    enrolled = run(ENROLL_AT, "enroll", "welcome", "--file", "leads.csv")
    assert (enrolled.exit_code, enrolled.stderr) == (0, "")
    assert enrolled.stdout == "enrolled 3, already enrolled 0, refused 0\n"
    ticked = run(TICK_AT, "tick", "--json")
    assert (ticked.exit_code, ticked.stderr) == (0, "")
    assert ticked.json["due"] == 3


def test_enroll_from_keys_writes_nothing_on_stderr_without_a_terminal(
    run: Run, published: None
) -> None:
    result = run(ENROLL_AT, "enroll", "welcome", "-c", "ana", "-c", "ben")
    assert (result.exit_code, result.stderr) == (0, "")


def test_the_reporter_redraws_a_running_count_on_a_terminal() -> None:
    screen = Terminal()
    with progress("enrolling", screen) as counter:
        counter.add(5000)
        counter.add(5000)
        counter.add(2000)
    assert screen.getvalue() == "\renrolling: 5,000\renrolling: 10,000\renrolling: 12,000\n"


def test_a_running_total_is_shown_as_given() -> None:
    screen = Terminal()
    with progress("importing", screen) as counter:
        counter.show(5000)
        counter.show(7500)
    assert screen.getvalue() == "\rimporting: 5,000\rimporting: 7,500\n"


def test_nothing_is_written_to_a_stream_that_is_not_a_terminal() -> None:
    log = io.StringIO()
    with progress("ticking", log) as counter:
        counter.add(1000)
    assert log.getvalue() == ""
    assert counter.count == 1000


def test_no_empty_line_when_there_was_nothing_to_count() -> None:
    screen = Terminal()
    with progress("advancing", screen):
        pass
    assert screen.getvalue() == ""


def test_the_line_is_ended_when_the_work_fails() -> None:
    screen = Terminal()
    with pytest.raises(KeyboardInterrupt), progress("importing", screen) as counter:
        counter.show(5000)
        raise KeyboardInterrupt
    assert screen.getvalue() == "\rimporting: 5,000\n"


def test_the_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    counter = Progress("enrolling")
    counter.add(3)
    counter.done()
    assert capsys.readouterr().err == ""  # pytest's captured stderr is no terminal


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """Every command's progress goes to a fake terminal."""
    fake = Terminal()

    def on_screen(label: str) -> AbstractContextManager[Progress]:
        return progress(label, fake)

    for module in (contacts_cli, enroll_cli, tick_cli):
        monkeypatch.setattr(module, "progress", on_screen)
    return fake


def test_commands_feed_their_counts_to_the_reporter(
    run: Run, write: Write, screen: Terminal
) -> None:
    write("playbooks/welcome.yaml", WELCOME)
    write("leads.csv", LEADS)
    run(ENROLL_AT, "publish")
    run(ENROLL_AT, "activate", "welcome")
    assert run(ENROLL_AT, "contacts", "import", "leads.csv").exit_code == 0
    assert run(ENROLL_AT, "enroll", "welcome", "--file", "leads.csv").exit_code == 0
    assert run(TICK_AT, "tick").exit_code == 0
    assert screen.getvalue() == ("\rimporting: 3\n\renrolling: 3\n\radvancing due enrollments: 3\n")
