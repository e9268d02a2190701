"""A throwaway Dovecot IMAP server on 127.0.0.1, for the tests and the benchmark.

Debian's `dovecot-imapd` (the Makefile's `test` target installs it when missing and run as
root). The server runs in the foreground with a configuration of its own in a temporary folder:
passwd-file users with a Maildir each, a free port (and with `tls=True` a second port for IMAPS
and STARTTLS on the first, with a self-signed certificate for 127.0.0.1). Dovecot will not run
its login processes as root, so under root the whole server runs as the `dovecot` user the
package creates; otherwise as whoever runs it.

Each test takes a user of its own (`new_account`); all are written at the start. Mail goes in
as files in the user's Maildir (`deliver`), as a mail server would leave it, which is fast
enough for the benchmark's 10,000 messages; Dovecot gives them UIDs when it first looks.
"""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

USER = "ana@acme.test"
PASSWORD = "imap-s3cret"
START_TIMEOUT = 15.0
SBIN = "/usr/sbin:/usr/local/sbin"
ACCOUNTS = 500  # users a session of tests can take, one each


class DovecotUnavailable(Exception):
    """Dovecot is not installed or did not start; the message says why."""


@dataclass
class Account:
    """One user of the server, with its own Maildir."""

    server: Dovecot
    user: str
    password: str
    _counter: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def port(self) -> int:
        return self.server.port

    def maildir(self, folder: str = "INBOX") -> Path:
        """The Maildir of a folder (created with its cur/new/tmp when missing)."""
        base = self.server.root / "mail" / self.user / "Maildir"
        path = base if folder == "INBOX" else base / f".{folder}"
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        if folder != "INBOX":
            (path / "maildirfolder").touch()
        self.server.own(base.parent, recursive=True)
        return path

    def deliver(self, raw: bytes, folder: str = "INBOX") -> Path:
        """Leave a message in the folder as a mail server delivers it (new/, unread); its
        arrival time (IMAP's INTERNALDATE, the file's time) is its Date header's."""
        path = self._write(self.maildir(folder) / "new", raw)
        self.server.own(path)
        return path

    def deliver_many(self, messages: list[bytes], folder: str = "INBOX") -> None:
        """Many messages at once (ownership fixed once at the end)."""
        target = self.maildir(folder) / "new"
        for raw in messages:
            self._write(target, raw)
        self.server.own(target, recursive=True)

    def set_uidvalidity(self, value: int, folder: str = "INBOX") -> None:
        """Give the folder a new UIDVALIDITY, as a server does when it renumbers a mailbox."""
        self.server.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value),
                            folder)  # fmt: skip

    def _write(self, folder: Path, raw: bytes) -> Path:
        path = folder / f"{int(time.time())}.M{next(self._counter)}P{os.getpid()}.seqctl"
        path.write_bytes(raw)
        arrived = _date_of(raw)
        if arrived is not None:
            os.utime(path, (arrived, arrived))
        return path


@dataclass
class Dovecot:
    """A running server: where it listens, who it runs as, its folder."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    run_as: str
    tls_port: int | None = None
    cert: Path | None = None
    _users: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def account(self, user: str = USER) -> Account:
        """A user of the server (all are in its passwd file from the start)."""
        return Account(self, user, PASSWORD)

    def new_account(self) -> Account:
        """A user of its own for one test: its mail is nobody else's."""
        number = next(self._users)
        if number > ACCOUNTS:
            raise DovecotUnavailable(f"all {ACCOUNTS} test users of this server are taken")
        return self.account(f"user{number}@acme.test")

    def doveadm(self, *args: str) -> None:
        subprocess.run(
            ["doveadm", "-c", str(self.config), *args],
            check=True, capture_output=True, **_as_user(self.run_as),
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server and its processes (its own process group), and remove its folder."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass  # still waiting for its children: they all go at once
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def own(self, path: Path, *, recursive: bool = False) -> None:
        """Give what the tests wrote to the user Dovecot runs as (when that is not us)."""
        if os.geteuid() != 0:
            return
        account = pwd.getpwnam(self.run_as)
        paths = [path, *path.rglob("*")] if recursive else [path]
        for item in paths:
            os.chown(item, account.pw_uid, account.pw_gid)


def _date_of(raw: bytes) -> float | None:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    found = re.search(rb"^Date:[ \t]*(.+)$", head, re.MULTILINE | re.IGNORECASE)
    if found is None:
        return None
    try:
        return parsedate_to_datetime(found.group(1).decode("ascii", "replace").strip()).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _as_user(name: str) -> dict[str, Any]:
    """Popen arguments that run a command as this user, group included, when we are root."""
    if os.geteuid() != 0:
        return {}
    account = pwd.getpwnam(name)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def _binary() -> str | None:
    """The dovecot program: on PATH, or in the sbin folders a user's PATH may not have."""
    return shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:{SBIN}")


def unavailable() -> str | None:
    """Why no Dovecot can be started here, or None when one can be tried."""
    if _binary() is None:
        return "Dovecot is not installed (apt-get install dovecot-imapd; make test does it as root)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("dovecot")
        except KeyError:
            return "running as root, but there is no 'dovecot' user to run Dovecot as"
    return None


def start(*, tls: bool = False) -> Dovecot:
    """Start a server; DovecotUnavailable (with the reason) when it cannot be."""
    reason = unavailable()
    if reason is not None:
        raise DovecotUnavailable(reason)
    run_as = "dovecot" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
    account = pwd.getpwnam(run_as)
    # Not under pytest's own temporary folder: under root that one is closed to other users.
    # In memory when there is a tmpfs: the mail of the tests comes and goes fast (a disk mounted
    # with `discard` takes seconds to delete a few hundred megabytes).
    shm = Path("/dev/shm")
    memory = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="seqctl-dovecot-", dir=memory))
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    port, tls_port = _free_port(), _free_port() if tls else None
    cert = _certificate(root) if tls else None
    # Every user from the start: Dovecot notices a changed passwd file only now and then.
    users = [USER, *(f"user{n}@acme.test" for n in range(1, ACCOUNTS + 1))]
    (root / "passwd").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}::::::\n" for u in users))
    (root / "dovecot.conf").write_text(
        _config(root, run_as, account.pw_uid, account.pw_gid, port, tls_port, cert)
    )
    if os.geteuid() == 0:
        for item in [root, *root.rglob("*")]:
            os.chown(item, account.pw_uid, account.pw_gid)
    process = subprocess.Popen(
        [_binary() or "dovecot", "-F", "-c", str(root / "dovecot.conf")],
        stdout=subprocess.DEVNULL,
        stderr=(root / "stderr.log").open("wb"),
        start_new_session=True,  # its own process group, stopped as one
        **_as_user(run_as),
    )
    server = Dovecot(root, port, process, run_as, tls_port, cert)
    try:
        _wait_until_listening(server)
    except DovecotUnavailable:
        server.stop()
        raise
    return server


def _wait_until_listening(server: Dovecot) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            errors = (server.root / "stderr.log").read_text(errors="replace")
            raise DovecotUnavailable(f"Dovecot exited: {(errors + server.log()).strip()[-500:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", server.port)) == 0:
                return
        time.sleep(0.05)
    raise DovecotUnavailable(f"Dovecot did not listen within {START_TIMEOUT:.0f} s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _certificate(root: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 and localhost (tests trust it by SSL_CERT_FILE)."""
    if shutil.which("openssl") is None:
        raise DovecotUnavailable("openssl is not installed: no certificate for the TLS tests")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(root / "key.pem"), "-out", str(root / "cert.pem"), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return root / "cert.pem"


def _config(
    root: Path, user: str, uid: int, gid: int, port: int, tls_port: int | None, cert: Path | None
) -> str:
    ssl = (
        f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{root / 'key.pem'}\n"
        if cert is not None
        else "ssl = no\n"
    )
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
instance_name = seqctl-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {grp.getgrgid(gid).gr_name}
default_login_user = {user}
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u mail=maildir:{root}/mail/%u/Maildir
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port or 0}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""
