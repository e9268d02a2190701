"""The file channel: one JSON object a line appended to outbox.jsonl (the default channel)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from seqctl.channels.base import Delivery, Outgoing, Progress


class FileChannel:
    """Appends messages to a JSONL file and syncs it before they count as sent."""

    knows_delivered = True  # `delivered` looks in the file

    def __init__(self, path: Path, name: str = "file") -> None:
        self.path = path
        self.name = name

    def send(
        self, messages: Sequence[Outgoing], halt: Callable[[], bool] | None = None
    ) -> Iterator[Progress]:
        """The whole batch in one append and one sync (the messages were marked `sending`
        before: after a crash, `delivered` tells which of them the file has)."""
        if messages:
            yield Progress([], self._append(messages))

    def _append(self, messages: Sequence[Outgoing]) -> list[Delivery]:
        lines = "".join([m.json_text() + "\n" for m in messages])
        try:
            with self.path.open("a+b") as handle:
                _lock(handle.fileno())  # a tick on several cores appends from each
                if handle.seek(0, os.SEEK_END) and _last_byte(handle) != b"\n":
                    lines = "\n" + lines  # a line a killed writer cut short stays on its own
                handle.write(lines.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            error = f"cannot write {self.path}: {exc.strerror}"
            return [Delivery(m.id, error=error, temporary=True) for m in messages]
        return [Delivery(m.id, provider_id=m.idempotency_key) for m in messages]

    def delivered(self, keys: set[str]) -> set[str]:
        """Keys already in the outbox: a tick that died after writing must not write again."""
        if not keys or not self.path.exists():
            return set()
        found: set[str] = set()
        with self.path.open(encoding="utf-8") as handle:
            for line in handle:
                if '"idempotency_key"' not in line:
                    continue
                try:
                    key = json.loads(line).get("idempotency_key")
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash was never delivered
                if key in keys:
                    found.add(key)
        return found

    def close(self) -> None:
        return None


def _last_byte(handle: BinaryIO) -> bytes:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1)


def _lock(fd: int) -> None:
    """Hold the file for this process until it is closed (where the system has flock)."""
    try:
        import fcntl
    except ImportError:  # Windows: one process appends at a time anyway
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
