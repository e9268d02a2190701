"""What long-running commands (`tick`, `events serve`) print, for people or for log collectors.

`--log-format text` (the default) prints lines as they always were. `--log-format json` prints
one JSON object a line with the wall-clock time (`ts`, UTC, even under `--now`: it says when
the line was written), a `level`, an `event` name and the message's fields, ready for
journald, Docker or Kubernetes log collectors.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import typer


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        "--log-format",
        envvar="SEQCTL_LOG_FORMAT",
        case_sensitive=False,
        help="text for people, json for log collectors (one object a line, with timestamps).",
    ),
]


def log(
    fmt: LogFormat,
    event: str,
    text: str,
    *,
    level: str = "info",
    err: bool = False,
    **fields: Any,
) -> None:
    """Print `text` (text format) or a JSON line of `event`, `text` and `fields`."""
    if fmt is LogFormat.JSON:
        typer.echo(json_line(event, text, level=level, **fields), err=err)
    else:
        typer.echo(text, err=err)


def json_line(event: str, text: str, *, level: str = "info", **fields: Any) -> str:
    record = {"ts": _stamp(), "level": level, "event": event, "message": text, **fields}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
