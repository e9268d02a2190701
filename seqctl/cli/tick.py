"""`seqctl tick` (run by cron every minute) and `seqctl messages` (the outbox)."""

from __future__ import annotations

import os
import re
import time
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from seqctl.channels import ChannelSet
from seqctl.cli import context, signals
from seqctl.cli.logs import LogFormat, LogFormatOption, json_line, log
from seqctl.cli.options import (
    AsOption,
    ContactFilterOption,
    JsonOption,
    LimitOption,
    SequenceFilterArgument,
    SequenceFilterOption,
    viewer,
)
from seqctl.cli.progress import progress
from seqctl.cli.root import app
from seqctl.engine.messages.tracking import signing_key, tracking_settings, unsubscribe_token
from seqctl.engine.outbox import retry as retrying
from seqctl.engine.run.stopping import StopRequest
from seqctl.engine.run.tick import TickReport
from seqctl.engine.run.tick import tick as run_tick
from seqctl.errors import ExitCode, InputError, SeqctlError
from seqctl.store.states import MessageStatus

if TYPE_CHECKING:
    from seqctl.engine.inbox import SyncReport
    from seqctl.store import Store

MESSAGE_STATUSES = tuple(MessageStatus)


@app.command()
def tick(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", min=1, show_default=False, help="Handle at most this many due enrollments."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what is due; write and send nothing.")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(
            "--every",
            metavar="PERIOD",
            show_default=False,
            help="Tick again every PERIOD (30s, 1m, 5m, 1h) until stopped: for containers "
            "and hosts without cron.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            show_default=False,
            help="Processes to advance due enrollments with (default: one per core, for a "
            "big tick with no daily cap).",
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    as_json: JsonOption = False,
) -> None:
    """Advance every enrollment due now: send, hold for approval, or make an action.

    Run it from cron every minute, or let it repeat with --every. Exits 1 when a step failed,
    0 otherwise (also when another tick is running: that one does the work). Ctrl-C or
    SIGTERM stops it between two batches (or, with --every, between two ticks), with what it
    sent recorded (exit 130 or 143); a second one stops it at once.

    Example: seqctl tick --now 2026-11-23T09:00:00Z --json
    """
    period = _period(every) if every is not None else None
    if dry_run and period is not None:
        raise InputError("--dry-run and --every do not go together: a dry run ticks once")
    if log_format is LogFormat.JSON:
        context.settings(ctx).log_json = True  # errors as JSON lines too
    run = _Ticker(
        ctx, limit=limit, dry_run=dry_run, log_format=log_format, as_json=as_json, workers=workers
    )
    announce = (
        (lambda said: json_line("stopping", said, level="warning"))
        if log_format is LogFormat.JSON
        else None
    )
    if period is None:
        stopping = nullcontext(None) if dry_run else signals.graceful_stop(announce)
        with stopping as stop:  # a dry run writes nothing: it may stop anywhere
            report, inbox = run.once(context.now(ctx), stop)
        run.finish(report, inbox)
        if inbox is not None and inbox.misconfigured:
            raise typer.Exit(int(ExitCode.USAGE))  # the tick ran; seqctl.yaml needs a person
        if report.failed or (inbox is not None and inbox.failed):
            raise typer.Exit(int(ExitCode.FINDINGS))
        return
    with signals.graceful_stop(announce) as stop:
        run.repeat(period, stop)


class _Ticker:
    """One tick, or ticks repeated every period, and what each of them prints."""

    def __init__(
        self,
        ctx: typer.Context,
        *,
        limit: int | None,
        dry_run: bool,
        log_format: LogFormat,
        as_json: bool,
        workers: int | None = None,
    ) -> None:
        self.ctx, self.limit, self.dry_run, self.workers = ctx, limit, dry_run, workers
        self.log_format, self.as_json = log_format, as_json
        self.store = context.store(ctx)
        self.config = context.config(ctx)
        database = context.database_path(ctx)
        # The file channel's outbox: beside an SQLite database, else beside seqctl.yaml.
        folder = database.resolve().parent if isinstance(database, Path) else self.config.root
        self.outbox = folder / "outbox.jsonl"

    def once(self, now: datetime, stop: StopRequest | None) -> tuple[TickReport, SyncReport | None]:
        """One tick: the inboxes read first (a reply read now stops the step this tick would
        send), then everything due advanced and delivered."""
        config = self.config
        inbox = None if self.dry_run else _read_inboxes(self.store, config.data, now, stop)
        key = signing_key(config.data, os.environ)
        channels = ChannelSet(
            config.channels,
            self.outbox,
            tracking=tracking_settings(config.data, os.environ),
            unsubscribe_signer=(lambda message: unsubscribe_token(message, key)) if key else None,
            # Mail is dated at the time --now gives (a replay reads as it would have been sent).
            clock=(lambda: now) if context.settings(self.ctx).now else None,
        )
        try:
            with progress("advancing due enrollments") as advancing:
                report = run_tick(
                    self.store,
                    channels,
                    now=now,
                    limit=self.limit,
                    dry_run=self.dry_run,
                    senders=config.data.get("senders") or {},
                    notifications=config.data.get("notifications"),
                    progress=advancing.add,
                    stop=stop,
                    workers=self.workers,
                )
        finally:
            channels.close()
        return report, inbox

    def repeat(self, period: timedelta, stop: StopRequest) -> None:
        """Tick, wait for the next period, again, until a signal; an error is said and the
        next period tries again (a locked database or a server down is not the end)."""
        given = context.settings(self.ctx).now
        started, clock = time.monotonic(), (context.now(self.ctx) if given else None)
        self._log("start", f"ticking every {_describe(period)}", every=period.total_seconds())
        while True:
            began = time.monotonic()
            # Under --now the clock starts there and runs on with real time.
            now = clock + timedelta(seconds=began - started) if clock else context.now(self.ctx)
            try:
                self.finish(*self.once(now, stop))  # typer.Exit when a signal stopped it
            except SeqctlError as exc:
                self._log("error", f"seqctl: {exc}", level="error", err=True)
            if _wait(began + period.total_seconds(), stop):
                reason = stop() or "stop"
                self._log("stop", f"stopped ({reason}) between two ticks", err=True)
                raise typer.Exit(signals.exit_code(reason))

    def finish(self, report: TickReport, inbox: SyncReport | None = None) -> None:
        """Print what a tick did (nothing, under cron, when it had nothing to do)."""
        data = report.as_json()
        if inbox is not None:  # the tick went on whatever happened to the inbox: it is told
            data["inbox"] = inbox.as_json()
            for problem in inbox.problems:
                self._log("inbox-problem", problem, level="warning", err=True)
            if inbox.read and not self.as_json:
                self._log("inbox", f"inbox: {inbox.summary()}", **inbox.as_json())
        if self.as_json:
            context.emit_json(data)
        elif report.busy is not None:
            self._log("busy", f"another tick is running ({report.busy}); nothing to do", **data)
        elif self.log_format is LogFormat.JSON or _worth_saying(report):
            self._log("tick", _summary(report, self.dry_run), **data)
        for trouble in report.failing:  # every tick while a channel is down, even under cron
            self._log(
                "channel-failing",
                f"seqctl: {trouble.describe()}",
                level="warning",
                err=True,
                channel=trouble.channel,
                waiting=trouble.waiting,
            )
        for failure in report.digests_failed:
            self._log(
                "digest-failed",
                f"seqctl: {failure.describe()}",
                level="warning",
                err=True,
                owner=failure.owner,
                again=failure.again,
            )
        if report.stopped is not None:
            self._log(
                "stop",
                f"stopped ({report.stopped}) between two batches: the next tick goes on from there",
                err=True,
            )
            raise typer.Exit(signals.exit_code(report.stopped))

    def _log(self, event: str, text: str, **fields: Any) -> None:
        log(self.log_format, event, text, **fields)


def _worth_saying(report: TickReport) -> bool:
    # Under cron a tick with nothing to do prints nothing: logs grow only with real work.
    return bool(
        report.due
        or report.sent
        or report.failed
        or report.deferred
        or report.suppressed
        or report.notified
        or context.is_terminal()
    )


def _summary(report: TickReport, dry_run: bool) -> str:
    prefix = "would handle" if dry_run else "handled"
    digests = (
        f"; {report.notified} owner digest{'s' if report.notified != 1 else ''} sent"
        if report.notified
        else ""
    )
    # Shown when it happened: a message that was due and did not go because its address opted
    # out is an answer to "why did nothing go?".
    suppressed = f", {report.suppressed} suppressed" if report.suppressed else ""
    return (
        f"{prefix} {report.due:,} due: {report.sent:,} sent, {report.approvals:,} held for "
        f"approval, {report.actions} actions, {report.failed} failed, "
        f"{report.deferred} deferred{suppressed}, {report.completed} completed{digests}"
    )


_PERIOD = re.compile(r"(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _period(text: str) -> timedelta:
    found = _PERIOD.fullmatch(text.strip().lower())
    if found is None or int(found.group(1)) < 1:
        raise InputError(f"--every {text!r}: a period such as 30s, 1m, 5m or 1h")
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2)[0]])


def _describe(period: timedelta) -> str:
    seconds = int(period.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _wait(deadline: float, stop: StopRequest) -> bool:
    """Sleep until `deadline` (time.monotonic), waking for a stop request; True if asked."""
    while (left := deadline - time.monotonic()) > 0:
        if stop() is not None:
            return True
        time.sleep(min(left, 0.2))
    return stop() is not None


def _read_inboxes(
    store: Store, config: dict[str, Any], now: datetime, stop: StopRequest | None
) -> SyncReport | None:
    """`inbox sync` when seqctl.yaml has inboxes (imported only then: most ticks have none)."""
    if not config.get("inboxes"):
        return None
    from seqctl.engine.inbox import sync_configured

    return sync_configured(store, config, now=now, stop=stop)


@app.command()
def messages(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", show_default=False, help=f"Only this status: {', '.join(MESSAGE_STATUSES)}."
        ),
    ] = None,
    sequence: SequenceFilterOption = None,
    limit: LimitOption = 0,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The outbox: every message with its status, attempts and error.

    Example: seqctl messages --status failed --json
    """
    if status is not None and status not in MESSAGE_STATUSES:
        raise InputError(f"--status {status!r}: one of {', '.join(MESSAGE_STATUSES)}")
    from seqctl.engine.views import reports  # here: a tick from cron does not load the reports

    rows = reports.messages(
        context.store(ctx),
        status=status,
        sequence=sequence,
        limit=limit or None,
        viewer=viewer(ctx, as_user),
    )
    keys = (
        "id",
        "sequence",
        "contact",
        "step",
        "channel",
        "to",
        "status",
        "attempts",
        "error",
        "sent_at",
        "resent",
        "next_attempt_at",
        "variant",
    )
    data = [m.as_json(keys) for m in rows]
    if as_json:
        context.emit_json(data)
        return
    for row in data:
        if row["resent"] and not row["error"]:  # the table has no column of its own for it
            row["error"] = f"sent again after an unknown outcome ({row['resent']}x)"
    context.print_records(
        data,
        [
            ("id", "id"),
            ("sequence", "sequence"),
            ("contact", "contact"),
            ("step", "step"),
            ("variant", "variant"),
            ("channel", "channel"),
            ("status", "status"),
            ("sent", "sent_at"),
            ("error", "error"),
        ],
        empty="no messages",
        limit=limit,
    )


@app.command()
def retry(
    ctx: typer.Context,
    sequence: SequenceFilterArgument = None,
    contact: ContactFilterOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Give failed enrollments another go: failed messages are sent again, failed steps re-run.

    Fix the cause first (a missing attribute: import the contact again; a channel that was
    down: nothing to do). Example: seqctl retry welcome-series --contact ana@example.com
    """
    report = retrying.retry(
        context.store(ctx),
        now=context.now(ctx),
        sequence=sequence,
        contact=contact,
        viewer=viewer(ctx, as_user),
    )
    if as_json:
        context.emit_json(report.as_json())
        return
    messages = f"{report.messages} message{'s' if report.messages != 1 else ''}"
    steps = f"{report.steps} step{'s' if report.steps != 1 else ''}"
    typer.echo(f"{messages} queued again, {steps} to run again at the next tick")
