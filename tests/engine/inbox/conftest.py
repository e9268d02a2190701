"""A real IMAP server for the inbox tests: Dovecot on 127.0.0.1, one user per test.

The server is the benchmark's (bench/dovecot.py), started once for the session. A test that
needs it and cannot have it is skipped, with the reason.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]


def _dovecot_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dovecot", REPO / "bench" / "dovecot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dovecot", module)
    spec.loader.exec_module(module)
    return module


dovecot = _dovecot_module()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Any]:
    reason = dovecot.unavailable()
    if reason is not None:
        pytest.skip(f"no IMAP server: {reason}")
    try:
        server = dovecot.start(tls=True)
    except dovecot.DovecotUnavailable as exc:
        pytest.skip(f"no IMAP server: {exc}")
    yield server
    server.stop()


@pytest.fixture
def imap(dovecot_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A mailbox of this test's own, its credentials in IMAP_USER and IMAP_PASSWORD."""
    account = dovecot_server.new_account()
    monkeypatch.setenv("IMAP_USER", account.user)
    monkeypatch.setenv("IMAP_PASSWORD", account.password)
    return account
