"""What a tick's connections report, kept in a file beside the database until it is in it.

A connection must not start its next message before the outcome of its last one is kept where
a kill cannot take it away: a tick killed then would send both again. Waiting for the tick's
thread to write it to the database costs each connection a round trip through that thread for
every message (a fifth of the time at 20 ms a reply, measured in bench/delivery.py); appending
one line to a file costs one system call. So each connection appends its report (the message
it is about to send, the outcome of the one before) to the journal of its channel and goes on.
The tick's thread records the reports in the database as before, and with them, in the same
transaction, how far into the journal it got (a mark). Once every report is recorded the
journal is removed; a tick that finds one left behind replays what the database lacks before
it sends anything (`replay`). A message kept as started with no outcome is settled as any
message in flight is: sent again with the same key.

A line in the page cache outlives SIGKILL and the OOM killer; like the database's own WAL
(synchronous=NORMAL), not a power cut. A database on a server keeps no journal: workers on
other machines could not read it (see Store.journals).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from seqctl.channels import ChannelSet, Delivery, Progress
from seqctl.engine.outbox.outcomes import DeliveryReport, record
from seqctl.engine.run.runtime import Versions
from seqctl.errors import SeqctlError
from seqctl.store import Store
from seqctl.timeutil import format_instant, parse_instant

SUFFIX = ".journal"
_HEADER = '{"journal": "'  # how every journal begins


class Journal:
    """One flow's journal: a file of its own, opened at the first report. `now` is the tick's
    time, which a replay records the outcomes at (when they happened, not when replayed)."""

    def __init__(self, folder: Path, mark: str, now: datetime) -> None:
        self.mark = mark  # the name of the database mark saying how far it is recorded
        self.now = now
        self.token = secrets.token_hex(8)  # which journal that mark is about
        self.path = folder / f"{self.token}{SUFFIX}"
        self._fd: int | None = None
        self._last = 0

    def append(self, started: list[int], done: list[Delivery]) -> int:
        """Keep one report (called by the connections' threads, one at a time)."""
        self._last += 1
        line = {"n": self._last, "started": started, "done": [_encoded(d) for d in done]}
        self._write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        return self._last

    def recorded(self, upto: int) -> tuple[str, str]:
        """The mark to write in the transaction that records the reports up to `upto`."""
        return self.mark, _position(self.token, upto)

    def close(self, *, keep: bool) -> None:
        """Close the file; remove it unless its reports may not all be recorded (`keep`)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        if not keep:
            _remove(self.path)
            _remove_if_empty(self.path.parent)  # nothing is left behind once all is recorded

    def _write(self, text: str) -> None:
        try:
            if self._fd is None:
                self._fd = self._create()
                header = {"journal": self.token, "mark": self.mark, "now": format_instant(self.now)}
                text = json.dumps(header) + "\n" + text  # one write: no header without a report
            data = text.encode("utf-8")
            while data:  # one write for a line, unless the disk takes less at once
                data = data[os.write(self._fd, data) :]
        except OSError as exc:
            raise SeqctlError(
                f"{self.path}: cannot keep what the connections report "
                f"({exc.strerror or exc}); nothing more is sent"
            ) from None

    def _create(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
        for tries in range(3):
            self.path.parent.mkdir(exist_ok=True)
            try:
                return os.open(self.path, flags, 0o600)
            except FileNotFoundError:  # a shard done with the folder removed it meanwhile
                if tries == 2:
                    raise
        raise AssertionError("unreachable")


def mark_name(part: str, channel: str) -> str:
    """One mark per channel and per process of a tick (shards run at once, each its own)."""
    return f"journal:{part}:{channel}"


def replay(
    store: Store, channels: ChannelSet, versions: Versions, now: datetime, folder: Path
) -> DeliveryReport:
    """Record what the journals a tick left in `folder` (killed, or stopped by an error) hold
    and the database lacks, then remove them.

    Killed half-way, the next replay goes on from where this one got (the mark moves in the
    same transaction as the records)."""
    report = DeliveryReport()
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        mark, token, when, entries = _read(path)
        if mark is None:  # killed (or a full disk) before its first line was whole
            _remove(path)
            continue
        found_token, _, found_upto = (store.mark(mark) or "").partition(" ")
        upto = int(found_upto) if found_token == token else 0
        started: list[int] = []
        done: list[Delivery] = []
        last = upto
        for n, entry_started, entry_done in entries:
            if n <= upto:
                continue
            started.extend(entry_started)
            done.extend(entry_done)
            last = n
        if last > upto:
            rows = {
                r.message.id: r
                for r in store.deliverables({*started, *(d.message_id for d in done)})
            }
            progress = Progress(
                [i for i in started if i in rows], [d for d in done if d.message_id in rows]
            )
            record(
                store,
                channels,
                versions,
                when or now,
                progress,
                rows,
                report,
                mark=(mark, _position(token, last)),
            )
        _remove(path)
    _remove_if_empty(folder)
    return report


def _position(token: str, upto: int) -> str:
    """A mark's value: which journal, and up to which of its reports it is recorded."""
    return f"{token} {upto}"


Entries = Iterator[tuple[int, list[int], list[Delivery]]]


def _read(path: Path) -> tuple[str | None, str, datetime | None, Entries]:
    """The journal's mark name, its token, its tick's time, and its entries up to the first
    that is not whole (only a power cut leaves one half-written, and then as the last). No
    mark name when not even the first line is whole: the header and the first report are
    written at once, so such a journal holds no report."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if "\n" not in text and _HEADER.startswith(text[: len(_HEADER)]):
            return None, "", None, iter(())
        lines = text.splitlines()
        header = json.loads(lines[0])
        mark, token = str(header["mark"]), str(header["journal"])
        when = parse_instant(header["now"]) if header.get("now") else None
    except (OSError, ValueError, IndexError, KeyError, TypeError, SeqctlError) as exc:
        raise SeqctlError(
            f"{path}: this journal of outcomes cannot be read ({exc}); nothing is sent until "
            "it is moved away (the messages it names may then be sent again)"
        ) from None

    def entries() -> Iterator[tuple[int, list[int], list[Delivery]]]:
        for line in lines[1:]:
            try:
                entry = json.loads(line)
                yield (
                    int(entry["n"]),
                    [int(i) for i in entry["started"]],
                    [_decoded(d) for d in entry["done"]],
                )
            except (ValueError, KeyError, TypeError):
                return

    return mark, token, when, entries()


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # another journal is open there (a shard's), or it is gone already


def _remove(path: Path) -> None:
    """Remove a journal whose reports are all in the database."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise SeqctlError(
            f"{path}: cannot remove this journal of outcomes ({exc.strerror or exc}); what it "
            "holds is in the database: remove it yourself"
        ) from None


def _encoded(d: Delivery) -> list[object]:
    return [d.message_id, d.provider_id, d.error, d.temporary, d.retry_after, d.unknown, d.held]


def _decoded(item: list[object]) -> Delivery:
    message_id, provider_id, error, temporary, retry_after, unknown, held = item
    return Delivery(
        int(str(message_id)),
        None if provider_id is None else str(provider_id),
        None if error is None else str(error),
        bool(temporary),
        None if retry_after is None else float(str(retry_after)),
        int(str(unknown)),
        bool(held),
    )
