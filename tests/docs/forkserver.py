"""A seqctl that starts in milliseconds, for the commands of the docs that bash runs.

Importing seqctl's CLI takes about a second; a page that pipes into seqctl or loops over it in
bash would pay that for every call. So the runner starts this module once, as a process that
imports the CLI and then serves on a Unix socket: for each call it forks, and the child runs
`seqctl` with the caller's arguments, folder, environment and standard input, output and error
(passed over the socket), exactly as the installed `seqctl` would. The child tells the client
its pid, and its exit code when it ends. The caller is `client()`,
written as a small `seqctl` script into a folder put first on the page's PATH (it runs with
`python -S`, which starts in a few milliseconds). Signals the client gets (`timeout -s TERM`,
Ctrl-C) are passed on to the child, and the client exits with the child's exit code.

    python -m tests.docs.forkserver SOCKET    # serve until killed
"""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

CLIENT = r"""#!{python} -S
# seqctl for the documentation tests: runs seqctl in a process forked from tests.docs.forkserver.
import json, os, signal, socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect({socket!r})
request = json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}).encode()
socket.send_fds(sock, [len(request).to_bytes(8, "big") + request], [0, 1, 2])
reply = sock.makefile("rb")
pid = int(reply.readline())
got = []
def forward(number, frame):
    got.append(number)
    try:
        os.kill(pid, number)
    except ProcessLookupError:
        pass
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, forward)
while True:
    try:
        line = reply.readline()
        break
    except InterruptedError:
        continue
sys.exit(int(line) if line.strip() else 128 + got[-1] if got else 1)
"""


def write_client(folder: Path, socket_path: Path) -> Path:
    """A `seqctl` script in folder that calls the server at socket_path."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "seqctl"
    script.write_text(CLIENT.format(python=sys.executable, socket=str(socket_path)), "utf-8")
    script.chmod(0o755)
    return script


def start(folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start the server (socket and client script in folder); its process and the client."""
    socket_path = folder / "seqctl.sock"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.docs.forkserver", str(socket_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdin=subprocess.DEVNULL,
        # Not measured by pytest-cov: its children end with os._exit, which writes no data.
        env={k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")},
    )
    deadline = time.monotonic() + 60
    while not socket_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the docs' seqctl server did not start")
        time.sleep(0.02)
    return process, write_client(folder / "bin", socket_path)


def _warm_up() -> None:
    """Run the common commands once, so that what they load on first use (templates, schemas,
    holiday calendars) is loaded here, before forking, and not again in every call."""
    import tempfile

    from typer.testing import CliRunner

    import seqctl.cli

    app = seqctl.cli.load()  # every command module
    calls = [
        ["init", "warm"], ["--config", "warm/seqctl.yaml", "lint"],
        ["--config", "warm/seqctl.yaml", "publish", "--by", "warm"],
        ["--config", "warm/seqctl.yaml", "activate", "intro-new-leads"],
        ["--config", "warm/seqctl.yaml", "contacts", "import", "warm/contacts.csv"],
        ["--config", "warm/seqctl.yaml", "enroll", "intro-new-leads", "-c", "maria-santos"],
        ["--config", "warm/seqctl.yaml", "tick"], ["--config", "warm/seqctl.yaml", "status"],
        ["--config", "warm/seqctl.yaml", "preview", "intro-new-leads", "-c", "john-carter"],
    ]  # fmt: skip
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="seqctl-docs-warm-") as folder:
        os.chdir(folder)
        try:
            for args in calls:
                CliRunner().invoke(app, ["--now", "2026-11-23T13:00:00Z", *args])
        finally:
            os.chdir(here)


def _build_once() -> None:
    """Typer turns the app into a click command on every call (about 50 ms for seqctl's): build
    it here, once, and let every forked call use its own copy of it."""
    import typer.main

    import seqctl.cli

    app = seqctl.cli.load()
    built = typer.main.get_command(app)
    build = typer.main.get_command

    def get_command(typer_instance: typer.Typer) -> typer.core.TyperCommand:
        return built if typer_instance is app else build(typer_instance)

    typer.main.get_command = get_command  # type: ignore[assignment]


def serve(socket_path: Path) -> None:
    _warm_up()
    _build_once()
    gc.freeze()  # what is loaded now stays out of the children's collections (no copy on write)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(socket_path))
    server.listen(16)
    server.settimeout(2)
    parent = os.getppid()
    while True:
        try:
            connection, _ = server.accept()
        except TimeoutError:
            _reap()
            if os.getppid() != parent:  # the test run is gone: so is the need for us
                return
            continue
        connection.settimeout(None)
        pid = os.fork()
        if pid == 0:
            server.close()
            _child(connection)  # never returns
        connection.close()
        _reap()


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(connection: socket.socket) -> None:
    """Read the call and run seqctl in this process: its pid first, its exit code last."""
    request: dict[str, object] = {}
    fds: list[int] = []
    try:
        head, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
        size = int.from_bytes(head[:8], "big")
        data = head[8:]
        while len(data) < size:
            more = connection.recv(size - len(data))
            if not more:
                raise EOFError("the client went away")
            data += more
        request = json.loads(data)
        connection.sendall(f"{os.getpid()}\n".encode())
    except BaseException:  # noqa: BLE001 - nobody to tell but the client, who sees no code
        os._exit(1)
    _run(request, fds, connection)


def _run(request: dict[str, object], fds: list[int], connection: socket.socket) -> None:
    code = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        sys.stdin = open(0, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        argv = request["argv"]
        assert isinstance(argv, list)
        sys.argv = ["seqctl", *argv]
        main = sys.modules["__main__"]  # so that usage lines say `seqctl`, not `python -m ...`
        main.__package__ = None
        main.__spec__ = None
        import seqctl.cli

        try:
            seqctl.cli.main()
            code = 0
        except SystemExit as stop:
            if stop.code is None:
                code = 0
            elif isinstance(stop.code, int):
                code = stop.code
            else:
                print(stop.code, file=sys.stderr)
                code = 1
    except BaseException:  # noqa: BLE001 - a traceback is what the real seqctl would show
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed pipe: nothing more to say
                pass
        try:
            connection.sendall(f"{code}\n".encode())
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
