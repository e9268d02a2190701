"""Every console example of README.md and docs/**/*.md prints what the page shows.

How pages are written and run: tests/docs/README.md (and the docstring of tests/docs/runner.py).
Refresh the pages after an intended change of output with `.venv/bin/python -m tests.docs.update`
and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs import runner


@pytest.mark.parametrize("page", runner.pages(), ids=lambda path: runner.relative(path))
def test_examples_print_what_the_page_shows(page: Path) -> None:
    parsed, outcomes = runner.run_page(page)
    runner.SKIPPED.extend(
        f"{runner.relative(page)}:{block.line} ({block.info})" for block in parsed.skipped
    )
    problems = runner.failures(parsed, outcomes)
    assert not problems, (
        f"{len(problems)} of {len(outcomes)} commands print something else than the page shows"
        " (refresh with `.venv/bin/python -m tests.docs.update` if the change is intended):\n\n"
        + "\n\n".join(problems)
    )


def test_the_runner_compares_with_wildcards() -> None:
    assert runner.matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert runner.matches(["a", "...", "b"], ["a", "b"])
    assert runner.matches(["a", "  ...", "d"], ["a", "  | b", "  | c", "d"])
    assert runner.matches(["x ... z  "], ["x y y z"])
    assert runner.matches(["a", ""], ["a"])
    assert not runner.matches(["a", "b"], ["a", "c"])
    assert not runner.matches(["a"], ["a", "b"])
    assert not runner.matches(["a ... c"], ["a b"])


def test_the_runner_reads_commands_files_and_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text\n\n"
        '```yaml title="conf/a.yaml"\nkey: 1\n```\n\n'
        "```console\n$ echo one \\\n  two\none two\n$ cd conf\n$ cat a.yaml\nkey: 1\n```\n\n"
        "<!-- docs: skip -->\n\n```console\n$ docker run seqctl\n```\n",
        encoding="utf-8",
    )
    parsed = runner.parse(page)
    assert [type(item).__name__ for item in parsed.items] == [
        "FileBlock", "Command", "Command", "Command", "Skipped",
    ]  # fmt: skip
    first = parsed.commands[0]
    assert (first.line, first.text, first.expected) == (8, "echo one   two", ("one two",))
    _, outcomes = runner.run_page(page)
    assert runner.failures(parsed, outcomes) == []
    assert [block.line for block in parsed.skipped] == [18]


def test_a_failure_names_the_page_line_command_and_both_outputs(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```console\n$ seqctl --version\nseqctl 9.9\n```\n", encoding="utf-8")
    parsed, outcomes = runner.run_page(page)
    (report,) = runner.failures(parsed, outcomes)
    assert report.startswith(f"{page}:2: seqctl --version\n")
    assert "-seqctl 9.9" in report and "+seqctl " in report


def test_the_updater_rewrites_only_what_changed(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ export GREETING=hi\n$ echo $GREETING\nhello\n$ echo same\nsame\n```\n",
        encoding="utf-8",
    )
    assert runner.update(page) == 1
    assert page.read_text(encoding="utf-8") == (
        "```console\n$ export GREETING=hi\n$ echo $GREETING\nhi\n$ echo same\nsame\n```\n"
    )
    assert runner.update(page) == 0


def test_a_title_outside_the_page_folder_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('```ini title="/etc/systemd/system/x.service"\n[Unit]\n```\n', "utf-8")
    with pytest.raises(runner.PageError, match="page.md:1: .*docs: skip"):
        runner.parse(page)


def test_the_smtp_sink_receives_what_seqctl_sends(tmp_path: Path) -> None:
    port = _free_port()
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs: smtp-sink -->\n"
        "```console\n"
        f"$ python -m aiosmtpd -n -l 127.0.0.1:{port} -c aiosmtpd.handlers.Mailbox mail\n```\n"
        "```console\n"
        f'$ python -c \'import smtplib; smtplib.SMTP("127.0.0.1", {port}).sendmail("a@x.test",'
        ' ["b@x.test"], "Subject: hi\\n\\nbody")\'\n'
        "$ grep -h '^Subject:' mail/new/*\nSubject: hi\n```\n",
        encoding="utf-8",
    )
    parsed, outcomes = runner.run_page(page)
    assert runner.failures(parsed, outcomes) == []


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bash_gets_a_fast_seqctl_and_the_exit_code_before(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ seqctl nosuch\n...\n$ echo $?\n2\n"
        "$ seqctl --version | tr a-z A-Z\nSEQCTL ...\n"
        '$ seqctl lint nothing-here; echo "exit $?"\n...\nexit 2\n'
        "$ printf 'key,email\\nada,ada@x.test\\n' > c.csv; seqctl db init > /dev/null\n"
        "$ cat c.csv | seqctl contacts import -\nimported 1 contact (1 new, 0 updated)\n"
        "$ command -v seqctl\n.../bin/seqctl\n```\n",
        encoding="utf-8",
    )
    parsed, outcomes = runner.run_page(page)
    assert runner.failures(parsed, outcomes) == []
    assert runner.fast_seqctl() != runner.BIN


def test_the_fast_seqctl_gets_the_signals_its_caller_gets(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```console\n$ seqctl init acme > /dev/null && cd acme\n"
        '$ timeout --preserve-status -s TERM 1 seqctl tick --every 1s; echo "exit $?"\n'
        "...\nstopped (SIGTERM) between two ticks\nexit 143\n```\n",
        encoding="utf-8",
    )
    parsed, outcomes = runner.run_page(page)
    assert runner.failures(parsed, outcomes) == []
