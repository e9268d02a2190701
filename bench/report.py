"""Stage results: one JSON line each on stdout, a markdown table with the targets on stderr."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

MEMORY_TARGET_MB = 250.0


@dataclass(frozen=True)
class Result:
    """One measured stage at one dataset size."""

    stage: str
    size: int
    items: int
    seconds: float | None
    peak_rss_mb: float | None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def per_second(self) -> float | None:
        if not self.seconds:
            return None
        return self.items / self.seconds

    def as_json(self) -> dict[str, object]:
        """The stable line shape: stage, size, items, seconds, per_second, peak_rss_mb (+ extra)."""
        return {
            "stage": self.stage,
            "size": self.size,
            "items": self.items,
            "seconds": _round(self.seconds, 3),
            "per_second": _round(self.per_second, 1),
            "peak_rss_mb": _round(self.peak_rss_mb, 1),
            **self.extra,
        }


@dataclass(frozen=True)
class Target:
    """A goal from the issues and whether a result meets it."""

    text: str
    met: Callable[[Result], bool]


def _rate(minimum: float) -> Target:
    return Target(f">= {minimum:,.0f}/s", lambda r: (r.per_second or 0) >= minimum)


TARGETS: dict[str, Target] = {
    "lint-1000": Target("< 2 s", lambda r: r.seconds is not None and r.seconds < 2),
    "import-csv": _rate(50_000),
    "import-jsonl": _rate(50_000),
    "enroll": _rate(100_000),
    "enroll-approve": _rate(100_000),
    "tick-due": _rate(20_000),
    "tick-approvals": _rate(20_000),
}


def emit(result: Result, out: TextIO) -> None:
    """Print one result as a JSON line, at once (a long run shows progress)."""
    out.write(json.dumps(result.as_json()) + "\n")
    out.flush()


def markdown_table(results: list[Result]) -> str:
    """Every result with its target verdict; memory is judged against 250 MB."""
    lines = [
        "| stage | size | items | seconds | per second | peak RSS MB | target | verdict |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    lines.extend(_row(result) for result in results)
    return "\n".join(lines) + "\n"


def _row(result: Result) -> str:
    if result.stage == "db-size":
        bytes_each = result.extra.get("bytes_per_enrollment")
        return (
            f"| db-size | {result.size:,} | {result.items:,} | | | | "
            f"{bytes_each:,} bytes/enrollment | |"
        )
    target = TARGETS.get(result.stage)
    verdicts = []
    if target is not None:
        verdicts.append("ok" if target.met(result) else "MISS")
    if result.peak_rss_mb is not None and result.peak_rss_mb >= MEMORY_TARGET_MB:
        verdicts.append(f"RSS >= {MEMORY_TARGET_MB:.0f} MB")
    cells = (
        result.stage,
        f"{result.size:,}",
        f"{result.items:,}",
        _fixed(result.seconds, 3),
        _fixed(result.per_second, 0, grouped=True),
        _fixed(result.peak_rss_mb, 1),
        target.text if target is not None else "",
        ", ".join(verdicts),
    )
    return "| " + " | ".join(cells) + " |"


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _fixed(value: float | None, digits: int, grouped: bool = False) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if grouped else f"{value:.{digits}f}"
