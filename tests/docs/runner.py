"""Run the examples of a documentation page and compare what they print with what the page shows.

The conventions are described for page authors in tests/docs/README.md. In short:

* In a ```console block, a line starting with `$ ` is a command (a trailing backslash continues
  it on the next line); the lines after it, up to the next `$ ` or the end of the block, are what
  it prints, stdout and stderr together. Trailing whitespace and trailing empty lines are
  ignored. A line that is `...` (indented or not) matches any number of lines (none included),
  and `...` inside a line matches any text on that line.
* Every page runs in a fresh temporary folder, its blocks in order; the current folder and the
  exported variables carry over from one command to the next.
* A fenced block with a title (```yaml title="playbooks/x.yaml") is written to that path,
  relative to the page's current folder, when it is reached.
* `<!-- docs: skip -->` right before a block leaves it out (for what cannot run here: docker, a
  real mail provider, a file under /etc).
* `<!-- docs: smtp-sink -->` right before a console block whose one command starts the aiosmtpd
  test server (`aiosmtpd -n -l 127.0.0.1:8025 -c aiosmtpd.handlers.Mailbox mail`, as
  `python -m aiosmtpd`, `uvx aiosmtpd` or `pipx run aiosmtpd` too) starts that very server for
  the rest of the page, in this process, on that address and with that Maildir folder. Runs that
  need the same port take turns (a lock file), so parallel test runs do not collide.

Commands that are one plain `seqctl ...` call run in this process (the CLI's click app under
click's CliRunner, with the page's folder and environment), so a page of thirty commands takes a
second or two; everything else runs with bash, with the virtualenv's bin folder first on PATH.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SMTP_LOCK_DIR = Path(tempfile.gettempdir())

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_TITLE = re.compile(r"""title=(?:"([^"]*)"|'([^']*)'|(\S+))""")
_DIRECTIVE = re.compile(r"^\s*<!--\s*docs:\s*(?P<what>[a-z-]+)\s*-->\s*$")
_SHELL_SYNTAX = set("|&;<>()$`*?~{}[]!\\\n")
_KEEP_OUT = {"_", "SHLVL", "PWD", "OLDPWD"}

SKIPPED: list[str] = []  # "page:line (info)" of every block the tests left out, for the summary


@dataclass(frozen=True)
class Command:
    """One `$ ` command of a console block and the output the page shows for it."""

    line: int  # 1-based line of the `$ ` in the page
    text: str  # the command, continuation lines joined as bash would read them
    shown: tuple[str, ...]  # the command's lines as the page shows them
    expected: tuple[str, ...]
    expected_start: int  # 0-based index in the page's lines of the first expected line
    expected_end: int  # 0-based index one past the last expected line


@dataclass(frozen=True)
class FileBlock:
    line: int
    path: str
    content: str


@dataclass(frozen=True)
class Sink:
    """A console block that starts the aiosmtpd test server (`<!-- docs: smtp-sink -->`)."""

    line: int
    host: str
    port: int
    maildir: str


@dataclass(frozen=True)
class Skipped:
    line: int
    info: str


Item = Command | FileBlock | Sink | Skipped


@dataclass
class Page:
    path: Path
    lines: list[str]
    items: list[Item] = field(default_factory=list)

    @property
    def skipped(self) -> list[Skipped]:
        return [item for item in self.items if isinstance(item, Skipped)]

    @property
    def commands(self) -> list[Command]:
        return [item for item in self.items if isinstance(item, Command)]


class PageError(Exception):
    """The page breaks the conventions (a bad title path, a sink block the runner cannot read)."""


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def parse(path: Path) -> Page:
    """The page's commands, file blocks, sinks and skipped blocks, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    page = Page(path, lines)
    directive: str | None = None
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            found = _DIRECTIVE.match(lines[i])
            if found:
                directive = found["what"]
                if directive not in ("skip", "smtp-sink"):
                    raise PageError(f"{relative(path)}:{i + 1}: unknown directive {directive!r}")
            elif lines[i].strip():
                directive = None
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        start = i
        body: list[tuple[int, str]] = []
        i += 1
        while i < len(lines):
            closing = lines[i].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            text = lines[i]
            body.append((i, text[len(indent) :] if text.startswith(indent) else text.lstrip()))
            i += 1
        i += 1
        language = info.split()[0] if info.split() else ""
        title = _TITLE.search(info)
        if directive == "skip":
            page.items.append(Skipped(start + 1, info or "(no language)"))
        elif directive == "smtp-sink":
            page.items.append(_sink(path, start, body))
        elif title:
            name = next(g for g in title.groups() if g is not None)
            if name.startswith("/") or ".." in Path(name).parts:
                raise PageError(
                    f"{relative(path)}:{start + 1}: the file block's title {name!r} is not a"
                    " path inside the page's folder; put <!-- docs: skip --> before it to show it"
                    " without writing it"
                )
            content = "\n".join(text for _, text in body)
            page.items.append(FileBlock(start + 1, name, content + "\n" if body else ""))
        elif language == "console":
            page.items.extend(_commands(body))
        directive = None
    return page


def _commands(body: list[tuple[int, str]]) -> list[Command]:
    commands: list[Command] = []
    j = 0
    while j < len(body):
        index, text = body[j]
        if not text.startswith("$ ") and text.rstrip() != "$":
            j += 1  # text before the first command: ignored
            continue
        shown = [text]
        parts = [text[2:]]
        while parts[-1].endswith("\\") and j + 1 < len(body):
            j += 1
            shown.append(body[j][1])
            parts[-1] = parts[-1][:-1]
            parts.append(body[j][1])
        j += 1
        first = j
        while j < len(body) and not body[j][1].startswith("$ ") and body[j][1].rstrip() != "$":
            j += 1
        expected = tuple(t for _, t in body[first:j])
        start = body[first][0] if first < len(body) else body[j - 1][0] + 1
        end = body[j - 1][0] + 1 if j > first else start
        commands.append(Command(index + 1, "".join(parts), tuple(shown), expected, start, end))
    return commands


def _sink(path: Path, start: int, body: list[tuple[int, str]]) -> Sink:
    where = f"{relative(path)}:{start + 1}"
    commands = _commands(body)
    if len(commands) != 1 or commands[0].expected:
        raise PageError(f"{where}: an smtp-sink block holds one command and no output")
    words = shlex.split(commands[0].text, comments=True)
    if "aiosmtpd" not in words or "-l" not in words or "aiosmtpd.handlers.Mailbox" not in words:
        raise PageError(
            f"{where}: an smtp-sink block runs `aiosmtpd -n -l HOST:PORT -c"
            " aiosmtpd.handlers.Mailbox FOLDER`"
        )
    host, _, port = words[words.index("-l") + 1].rpartition(":")
    maildir = words[words.index("aiosmtpd.handlers.Mailbox") + 1 :]
    if not port.isdigit() or len(maildir) != 1:
        raise PageError(f"{where}: the server's address is HOST:PORT and the Maildir one folder")
    return Sink(start + 1, host or "127.0.0.1", int(port), maildir[0])


# --- running -------------------------------------------------------------------------------


def matches(expected: tuple[str, ...] | list[str], actual: list[str]) -> bool:
    """Whether the output matches the page's expectation (`...` lines and `...` in lines)."""
    want = _trim([line.rstrip() for line in expected])
    got = _trim([line.rstrip() for line in actual])
    return _match(want, 0, got, 0, {})


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


def _match(
    want: list[str], i: int, got: list[str], j: int, seen: dict[tuple[int, int], bool]
) -> bool:
    key = (i, j)
    if key in seen:
        return seen[key]
    if i == len(want):
        result = j == len(got)
    elif want[i].strip() == "...":
        result = any(_match(want, i + 1, got, k, seen) for k in range(j, len(got) + 1))
    else:
        result = j < len(got) and _line(want[i], got[j]) and _match(want, i + 1, got, j + 1, seen)
    seen[key] = result
    return result


def _line(want: str, got: str) -> bool:
    if "..." not in want:
        return want == got
    pattern = ".*".join(re.escape(part) for part in want.split("..."))
    return re.fullmatch(pattern, got, re.DOTALL) is not None


@dataclass(frozen=True)
class Outcome:
    command: Command
    output: list[str]
    exit_code: int


@dataclass
class Session:
    """A page's folder, environment and test servers while its examples run."""

    page: Page
    folder: Path
    cwd: Path
    env: dict[str, str]
    stack: contextlib.ExitStack
    last_code: int = 0  # the exit code of the page's previous command, for `$?`

    def run(self, command: Command) -> Outcome:
        if _plain_seqctl(command.text):
            output, code = self._in_process(shlex.split(command.text, comments=True)[1:])
        else:
            output, code = self._bash(command.text)
        self.last_code = code
        return Outcome(command, output.splitlines(), code)

    def write(self, block: FileBlock) -> None:
        target = self.cwd / block.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.content, encoding="utf-8")

    def start_sink(self, sink: Sink) -> None:
        self.stack.enter_context(smtp_sink(sink.host, sink.port, self.cwd / sink.maildir))

    def _in_process(self, args: list[str]) -> tuple[str, int]:
        import typer.testing

        app, command = _app()
        saved_env, saved_cwd = dict(os.environ), os.getcwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.cwd)
        try:
            # Typer turns the app into a click command on every call (about 50 ms): use the one
            # built for this run.
            with mock.patch.object(typer.testing, "_get_command", lambda _: command):
                result = typer.testing.CliRunner().invoke(app, args, input="", prog_name="seqctl")
        finally:
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            info = result.exc_info
            trace = "".join(traceback.format_exception(*info)) if info else repr(result.exception)
            output += f"\n[docs runner] seqctl raised:\n{trace}"
        return output, result.exit_code

    def _bash(self, text: str) -> tuple[str, int]:
        state = self.folder / ".docs-state"
        script = (
            f"(exit {self.last_code})\n{text}\n__docs_rc=$?\n"
            f'pwd > "{state}.cwd"; env -0 > "{state}.env"\nexit $__docs_rc\n'
        )
        # Output goes to a file, not a pipe: a command may leave a server running in the
        # background (`... &`), which would hold a pipe open. Each command runs in its own
        # process group, ended with the page.
        log = self.folder / ".docs-output"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                ["bash", "-c", script],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.stack.callback(_end_group, process.pid)
            try:
                code = process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                _end_group(process.pid)
                code = process.wait()
        output = log.read_bytes().decode("utf-8", "replace")
        cwd_file, env_file = Path(f"{state}.cwd"), Path(f"{state}.env")
        if cwd_file.exists() and env_file.exists():
            self.cwd = Path(cwd_file.read_text(encoding="utf-8").strip())
            pairs = env_file.read_bytes().decode("utf-8", "replace").split("\0")
            self.env = {
                name: value
                for name, _, value in (pair.partition("=") for pair in pairs if pair)
                if name not in _KEEP_OUT
            }
            cwd_file.unlink()
            env_file.unlink()
        return output, code


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)


@functools.cache
def _app() -> tuple[Any, Any]:
    """seqctl's typer app and the click command typer makes of it, built once."""
    import typer.main

    from seqctl.cli import app

    return app, typer.main.get_command(app)


def _plain_seqctl(text: str) -> bool:
    if any(char in _SHELL_SYNTAX for char in text.split("#", 1)[0] if char not in "'\""):
        return False
    try:
        words = shlex.split(text, comments=True)
    except ValueError:
        return False
    return bool(words) and words[0] == "seqctl"


_SERVER: list[Path] = []  # the folder of the fast `seqctl` for bash, once started


def fast_seqctl() -> Path:
    """The folder holding a `seqctl` that runs in a process forked from one that has already
    imported seqctl (tests/docs/forkserver.py): started once per test run, ended with it."""
    if not _SERVER:
        import atexit

        from tests.docs import forkserver

        folder = Path(tempfile.mkdtemp(prefix="seqctl-docs-server-"))
        process, client = forkserver.start(folder)

        def stop() -> None:
            process.terminate()
            process.wait()
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(stop)
        _SERVER.append(client.parent)
    return _SERVER[0]


def base_env(home: Path) -> dict[str, str]:
    """The environment a page starts with: no seqctl settings of the machine running the tests."""
    return {
        "PATH": f"{fast_seqctl()}{os.pathsep}{BIN}{os.pathsep}/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TZ": "UTC",
        "COLUMNS": "80",  # as CliRunner formats help, in process
        "TERM": "dumb",
        "NO_COLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


@contextlib.contextmanager
def session(page: Page) -> Iterator[Session]:
    with (
        tempfile.TemporaryDirectory(prefix="seqctl-docs-") as name,
        contextlib.ExitStack() as stack,
    ):
        folder = Path(name)
        work = folder / "work"
        work.mkdir()
        yield Session(page, folder, work, base_env(work), stack)


@contextlib.contextmanager
def smtp_sink(host: str, port: int, maildir: Path) -> Iterator[None]:
    """aiosmtpd's Mailbox handler on host:port, as `aiosmtpd -n -l ... -c ...Mailbox` runs it.

    Runs of the docs that need the same port take turns through a lock file, so that two test
    runs on one machine do not fail each other."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    lock_path = SMTP_LOCK_DIR / f"seqctl-docs-smtp-{port}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        controller = Controller(Mailbox(maildir), hostname=host, port=port)
        try:
            controller.start()
        except Exception as error:  # noqa: BLE001 - the port's owner is outside this test
            raise PageError(
                f"cannot start the test SMTP server on {host}:{port}: {error}"
            ) from error
        try:
            yield
        finally:
            controller.stop()


def run_page(path: Path) -> tuple[Page, list[Outcome]]:
    """Run every example of the page; the outcome of each command, in order."""
    page = parse(path)
    outcomes: list[Outcome] = []
    with session(page) as current:
        for item in page.items:
            if isinstance(item, Command):
                outcomes.append(current.run(item))
            elif isinstance(item, FileBlock):
                current.write(item)
            elif isinstance(item, Sink):
                current.start_sink(item)
    return page, outcomes


def failures(page: Page, outcomes: list[Outcome]) -> list[str]:
    """A report for every command whose output differs from the page: page:line, the command,
    what the page shows and what was printed."""
    reports = []
    for outcome in outcomes:
        command = outcome.command
        if matches(command.expected, outcome.output):
            continue
        diff = difflib.unified_diff(
            [line.rstrip() for line in command.expected],
            [line.rstrip() for line in outcome.output],
            "page shows",
            "seqctl printed",
            lineterm="",
        )
        reports.append(
            f"{relative(page.path)}:{command.line}: {command.text}\n"
            f"(exit code {outcome.exit_code})\n" + "\n".join(diff)
        )
    return reports


def pages() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def update(path: Path) -> int:
    """Rewrite the expected outputs of the page's commands that no longer match; how many."""
    page, outcomes = run_page(path)
    lines = list(page.lines)
    changed = 0
    for outcome in reversed(outcomes):
        command = outcome.command
        if matches(command.expected, outcome.output):
            continue
        indent = _indent_of(page.lines[command.line - 1])
        actual = [indent + line.rstrip() if line.strip() else "" for line in outcome.output]
        lines[command.expected_start : command.expected_end] = _trim(actual)
        changed += 1
    if changed:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
