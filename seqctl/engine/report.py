"""`seqctl report`: one self-contained HTML page of how every sequence is doing.

The numbers are those of `seqctl status --json` (reports.status); each also sits in a `data-`
attribute so a test or a script can read it back. Nothing is loaded from the network: the CSS
and the charts (SVG) are inline. Large tables are aggregated in SQL, never read row by row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from html import escape
from typing import Any

from seqctl.engine import reports
from seqctl.engine.actions import ActionView, Timing, list_actions
from seqctl.store import Store
from seqctl.timeutil import format_instant

FUNNEL_KINDS = ("sent", "done", "skipped", "failed")
COLOURS = {"enrolled": "#4c78a8", "sent": "#54a24b", "done": "#72b7b2", "skipped": "#eeca3b"}
COLOURS["failed"] = "#e45756"
MAX_ROWS = 100  # failure groups and due actions shown; the rest are counted
MAX_DAYS = 400  # days drawn in the enrollments-over-time chart (the latest ones)

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ddd;padding:.2em .6em}
th{background:#f4f4f4;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font:12px system-ui,sans-serif}.muted{color:#777}.legend span{margin-right:1em}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _attrs(**data: object) -> str:
    """data-* attributes, escaped; keyword `foo_bar` becomes `data-foo-bar`."""
    return "".join(f' data-{k.replace("_", "-")}="{_e(v)}"' for k, v in data.items())


def _grouped(rows: list[tuple[Any, ...]]) -> dict[str, list[tuple[Any, ...]]]:
    groups: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for sequence, *rest in rows:
        groups[str(sequence)].append(tuple(rest))
    return groups


def build_report(store: Store, *, now: datetime) -> str:
    """The whole report as one HTML document."""
    statuses = reports.all_status(store)
    per_day = _grouped(store.enrolled_per_day())
    failed_enrollments = _grouped(store.failure_reasons())
    failed_messages = _grouped(store.delivery_errors())
    due = list_actions(store, now, show=Timing.DUE)
    stamp = format_instant(now) or ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: the page must open the same offline, from a mail attachment.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>seqctl report {_e(stamp)}</title><style>{CSS}</style></head>",
        f'<body><h1>seqctl report</h1><p class="muted"{_attrs(generated_at=stamp)}>'
        f"Generated {_e(stamp)}: {len(statuses)} sequences, {len(due)} actions due.</p>",
        _actions_section(due),
    ]
    for item in statuses:
        name = item["sequence"]
        parts.append(
            f'<section{_attrs(sequence=name)}><h2>{_e(name)}</h2><p class="muted">'
            f"{_e(item['status'])}, version {_e(item['version'])}</p>"
        )
        parts.append(_states_table(item))
        parts.append(_funnel(item))
        parts.append(_over_time(name, per_day.get(name, [])))
        parts.append(
            _failures(name, failed_enrollments.get(name, []), failed_messages.get(name, []))
        )
        parts.append("</section>")
    if not statuses:
        parts.append("<p>No published sequence yet (seqctl publish adds them).</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _states_table(item: dict[str, Any]) -> str:
    name = item["sequence"]
    counts = item["enrollments"]
    head = "".join(f"<th>{_e(state)}</th>" for state in counts)
    cells = "".join(
        f'<td class="n"{_attrs(sequence=name, state=state)}>{n}</td>' for state, n in counts.items()
    )
    return (
        f"<h3>Enrollments by state</h3><table><tr>{head}<th>total</th></tr>"
        f'<tr>{cells}<td class="n"{_attrs(sequence=name, total="enrollments")}>'
        f"{sum(counts.values())}</td></tr></table>"
    )


def _funnel(item: dict[str, Any]) -> str:
    """Per step, a bar stacked from sent, done, skipped and failed, under one for everyone."""
    name = item["sequence"]
    enrolled = sum(item["enrollments"].values())
    rows: list[tuple[str, list[tuple[str, int]]]] = [("enrolled", [("enrolled", enrolled)])]
    rows += [(s["id"], [(k, int(s[k])) for k in FUNNEL_KINDS]) for s in item["steps"]]
    widest = max([enrolled, *(sum(n for _, n in bars) for _, bars in rows)]) or 1
    label_w, bar_w, row_h = 160, 420, 24
    height = row_h * len(rows) + 8
    shapes = []
    for i, (step, bars) in enumerate(rows):
        y = 4 + i * row_h
        shapes.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{_e(step)}</text>')
        x = float(label_w)
        for kind, n in bars:
            width = bar_w * n / widest
            data = (
                _attrs(sequence=name, kind=kind, value=n)
                if kind == "enrolled"
                else _attrs(sequence=name, step=step, kind=kind, value=n)
            )
            shapes.append(
                f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{row_h - 6}" '
                f'fill="{COLOURS[kind]}"{data}><title>{_e(step)}: {n} {kind}</title></rect>'
            )
            x += width
        total = sum(n for _, n in bars)
        shapes.append(f'<text x="{x + 4:.1f}" y="{y + 15}">{total}</text>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 60}" '
        f'height="{height}" role="img" aria-label="funnel of {_e(name)}"'
        f"{_attrs(chart='funnel', sequence=name)}>{''.join(shapes)}</svg>"
    )
    legend = "".join(
        f'<span style="color:{COLOURS[k]}">&#9632;</span>{k} ' for k in ("enrolled", *FUNNEL_KINDS)
    )
    head = "".join(f"<th>{k}</th>" for k in FUNNEL_KINDS)
    body = "".join(
        f"<tr><td>{_e(s['id'])}</td><td>{_e(s['type'])}</td>"
        + "".join(
            f'<td class="n"{_attrs(sequence=name, step=s["id"], count=k)}>{s[k]}</td>'
            for k in FUNNEL_KINDS
        )
        + "</tr>"
        for s in item["steps"]
    )
    return (
        f'<h3>Funnel</h3>{svg}<p class="legend">{legend}</p>'
        f"<table><tr><th>step</th><th>type</th>{head}</tr>{body}</table>"
    )


def _over_time(name: str, days: list[tuple[Any, ...]]) -> str:
    """Enrollments per day as bars, days with none included, the latest MAX_DAYS of them."""
    if not days:
        return "<h3>Enrollments over time</h3><p>Nobody enrolled yet.</p>"
    counts = {str(day): int(n) for day, n in days}
    first, last = date.fromisoformat(min(counts)), date.fromisoformat(max(counts))
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    span = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    top = max(counts.get(d, 0) for d in span) or 1
    plot_w, plot_h, left = 560, 120, 40
    step = plot_w / len(span)
    bars = []
    for i, day in enumerate(span):
        n = counts.get(day, 0)
        h = plot_h * n / top
        bars.append(
            f'<rect x="{left + i * step:.1f}" y="{10 + plot_h - h:.1f}" '
            f'width="{max(step - 1, 1):.1f}" height="{h:.1f}" fill="{COLOURS["enrolled"]}"'
            f"{_attrs(sequence=name, day=day, value=n)}><title>{day}: {n}</title></rect>"
        )
    axis = (
        f'<text x="{left - 4}" y="{16}" text-anchor="end">{top}</text>'
        f'<text x="{left - 4}" y="{10 + plot_h}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{plot_h + 26}">{span[0]}</text>'
        f'<text x="{left + plot_w}" y="{plot_h + 26}" text-anchor="end">{span[-1]}</text>'
    )
    return (
        f'<h3>Enrollments over time</h3><svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{left + plot_w + 10}" height="{plot_h + 32}" role="img" '
        f'aria-label="enrollments per day in {_e(name)}"{_attrs(chart="enrolled", sequence=name)}>'
        f"{''.join(bars)}{axis}</svg>"
    )


def _failures(
    name: str, enrollments: list[tuple[Any, ...]], messages: list[tuple[Any, ...]]
) -> str:
    if not enrollments and not messages:
        return "<h3>Failures</h3><p>None.</p>"
    rows = [
        f"<tr><td>enrollment</td><td></td><td>{_e(reason)}</td>"
        f'<td class="n"{_attrs(sequence=name, failure="enrollment", reason=reason)}>{n}</td>'
        f"<td>{_e(example)}</td></tr>"
        for reason, n, example in enrollments
    ]
    rows += [
        f"<tr><td>message</td><td>{_e(step)}</td><td>{_e(error)}</td>"
        f'<td class="n"{_attrs(sequence=name, failure="message", step=step, reason=error)}>'
        f"{n}</td><td>{_e(example)}</td></tr>"
        for step, error, n, example in messages
    ]
    more = len(rows) - MAX_ROWS
    note = f'<p class="muted">and {more} more kinds of failure</p>' if more > 0 else ""
    return (
        "<h3>Failures</h3><table><tr><th>what</th><th>step</th><th>reason</th><th>count</th>"
        f"<th>for example</th></tr>{''.join(rows[:MAX_ROWS])}</table>{note}"
    )


def _actions_section(due: list[ActionView]) -> str:
    head = f'<h2>Actions due now <span class="muted"{_attrs(actions_due=len(due))}>({len(due)})'
    if not due:
        return f"{head}</span></h2><p>None.</p>"
    rows = "".join(
        f"<tr{_attrs(action=a.id, sequence=a.sequence, status=a.status)}>"
        f"<td>{_e(a.id)}</td><td>{_e(a.sequence)}</td><td>{_e(a.contact)}</td>"
        f"<td>{_e(a.step)}</td><td>{_e(a.type)}</td><td>{_e(a.due_at)}</td>"
        f"<td>{_e(a.status)}</td><td>{_e(a.title or '')}</td></tr>"
        for a in due[:MAX_ROWS]
    )
    more = len(due) - MAX_ROWS
    note = (
        f'<p class="muted">and {more} more (seqctl actions --due lists them)</p>'
        if more > 0
        else ""
    )
    return (
        f"{head}</span></h2><table><tr><th>id</th><th>sequence</th><th>contact</th><th>step</th>"
        f"<th>type</th><th>due</th><th>status</th><th>title</th></tr>{rows}</table>{note}"
    )
