"""The report's HTML: sections of a page a manager reads top to bottom, on any screen."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from seqctl.engine.views.report import MAX_ACTIONS, ReportData
from seqctl.store.records import EnrollmentFailure, MessageFailure

CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f7f9}
main{max-width:72em;margin:0 auto;padding:1.5em 1.2em 3em}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:2em 0 .6em}
h3{font-size:1em;margin:1.4em 0 .4em}
.muted{color:#656d76}.small{font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(10.5em,1fr));gap:.7em}
.card{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:.7em .9em}
.card b{display:block;font-size:1.6em;font-variant-numeric:tabular-nums}
.card span{color:#656d76;font-size:.9em}
section.sequence{background:#fff;border:1px solid #d8dee4;border-radius:8px;padding:.3em 1.1em 1em;
margin:1.2em 0}
.status{display:inline-block;border-radius:1em;padding:0 .6em;font-size:.85em;background:#eaeef2}
.status.active{background:#dafbe1}.status.paused{background:#fff8c5}
table{border-collapse:collapse;width:100%;margin:.3em 0}
th,td{border-bottom:1px solid #e5e8eb;padding:.35em .5em;text-align:left;vertical-align:top}
th{font-weight:600;color:#424a53;font-size:.9em}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.n small{color:#656d76}
.verdict{margin:.3em 0;padding:.4em .7em;border-left:4px solid #8c959f;background:#f6f8fa}
.verdict.sure{border-color:#2e9e5b}
.overdue{color:#b42318;font-weight:600}
.chart{margin:0 0 1em}.chart figcaption{font-weight:600;margin-bottom:.2em}
.chart-row{display:flex;align-items:flex-start;background:#fff;border:1px solid #d8dee4;
border-radius:8px;padding:.3em .5em .1em 0}
.chart svg{display:block;overflow:visible}.chart svg.plot{flex:1 1 auto;min-width:0}
svg text{font:12px system-ui,sans-serif;fill:#424a53}
svg .grid{stroke:#e5e8eb}svg .base{stroke:#8c959f}
ul.lines{padding-left:1.2em}
@media (max-width:640px){
main{padding:1em .7em 2em}
.chart svg .minor{display:none}
table.stack thead{display:none}
table.stack,table.stack tbody,table.stack tr,table.stack td{display:block;width:100%}
table.stack tr{border-bottom:1px solid #d8dee4;padding:.3em 0;display:grid;
grid-template-columns:repeat(2,minmax(0,1fr));column-gap:.8em}
table.stack td:first-child{grid-column:1/-1}
table.stack td{border:0;padding:.1em 0;text-align:left}
table.stack td[data-label]::before{content:attr(data-label) ": ";color:#656d76}
td.n{white-space:normal}
}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _attrs(**data: object) -> str:
    """data-* attributes, escaped; keyword `foo_bar` becomes `data-foo-bar`."""
    return "".join(f' data-{k.replace("_", "-")}="{_e(v)}"' for k, v in data.items())


def _num(label: str, n: int, rate: str = "", **data: object) -> str:
    """A number cell: `label` names it on a phone, `data` lets a script read it back."""
    return f'<td class="n" data-label="{_e(label)}"{_attrs(**data, value=n)}>{n:,}{rate}</td>'


def _cell(label: str, html: str, extra: str = "") -> str:
    return f'<td data-label="{_e(label)}"{extra}>{html}</td>'


def _pct(rate: float) -> str:
    return f"{rate * 100:.1f}%" if rate and rate < 0.1 else f"{rate:.0%}"


def _when(value: str | datetime | None, tz: ZoneInfo, *, year: bool = False) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(tz)
    text = f"{local.strftime('%a')} {local.day} {local.strftime('%b')}"
    text += f" {local.year}" if year else ""
    return f"{text} {local.strftime('%H:%M')}"


def render(data: ReportData) -> str:
    tz = data.zone
    since, until = _when(data.period.since, tz, year=True), _when(data.period.until, tz, year=True)
    period = f"{since} to {until}"
    scope = f" · owner {data.owner}" if data.owner else ""
    scope += f" · as seen by {data.viewer}" if data.viewer else ""
    shown = _attrs(
        since=data.period.since.isoformat(),
        until=data.period.until.isoformat(),
        zone=data.zone_name,
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may be fetched: the page must open the same offline, from a mail attachment.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>Sequences report, {_e(period)}</title><style>{CSS}</style></head><body><main>",
        "<h1>Sequences report</h1>",
        f'<p class="muted"{shown}>{_e(period)} ({_e(data.zone_name)}){_e(scope)}. '
        f"Generated {_e(_when(data.now, tz, year=True))}.</p>",
        _summary(data),
        "<h2>Sends and replies per day</h2>",
        *data.charts,
        _sequences(data),
        _actions(data),
        "</main></body></html>\n",
    ]
    return "\n".join(parts)


def _summary(data: ReportData) -> str:
    contacted, replied = data.total("contacted"), data.total("replied")
    rate = replied / contacted if contacted else 0.0
    cards: list[tuple[str, object, str, str]] = [
        ("active", data.live(), f"{data.live():,}", "active enrollments (now)"),
        ("sent", data.total("sent"), f"{data.total('sent'):,}", "messages sent"),
        (
            "reply_rate",
            round(rate, 3),
            f"{rate:.1%}",
            f"reply rate ({replied:,} of {contacted:,} contacted)",
        ),
    ]
    for key, label in (
        ("meetings", "meetings booked"),
        ("bounced", "bounces"),
        ("unsubscribed", "unsubscribes"),
        ("approvals_waiting", "approvals waiting (now)"),
        ("actions_overdue", "actions overdue (now)"),
    ):
        cards.append((key, data.total(key), f"{data.total(key):,}", label))
    shown = "".join(
        f'<div class="card"{_attrs(total=key, value=value)}><b>{text}</b>'
        f"<span>{_e(label)}</span></div>"
        for key, value, text, label in cards
    )
    return f'<div class="cards">{shown}</div>'


def _sequences(data: ReportData) -> str:
    parts = ["<h2>Sequences</h2>"]
    if not data.shown:
        parts.append("<p>No published sequence to show (seqctl publish adds them).</p>")
    for item in data.active:
        parts.append(_sequence(data, item))
    if data.quiet:
        parts.append('<h3>No activity in this period</h3><ul class="lines">')
        parts += [f"<li{_attrs(quiet=s['sequence'])}>{_line(s)}</li>" for s in data.quiet]
        parts.append("</ul>")
    if data.drafts:
        parts.append('<h3>Drafts nobody is enrolled in</h3><ul class="lines">')
        parts += [f"<li{_attrs(draft=s['sequence'])}>{_line(s)}</li>" for s in data.drafts]
        parts.append("</ul>")
    return "\n".join(parts)


def _line(item: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in item["enrollments"].items() if n)
    return (
        f'<b>{_e(item["name"])}</b> <span class="muted">{_e(item["sequence"])} · '
        f"{_e(item.get('owner') or 'no owner')} · {_e(item['status'])}"
        f"{' · ' + _e(counts) if counts else ''}</span>"
    )


def _badge(status: str) -> str:
    return f'<span class="status {_e(status)}">{_e(status)}</span>'


def _sequence(data: ReportData, item: dict[str, Any]) -> str:
    name = item["sequence"]
    states = " · ".join(
        f"<span{_attrs(sequence=name, state=state, value=n)}>{n:,} {state}</span>"
        for state, n in item["enrollments"].items()
        if n
    )
    owner = _e(item.get("owner") or "none")
    parts = [
        f'<section class="sequence"{_attrs(sequence=name)}>',
        f"<h3>{_e(item['name'])} {_badge(item['status'])}</h3>",
        f'<p class="muted small">{_e(name)} · owner {owner} · '
        f"version {item['version']} · {states or 'nobody enrolled'}</p>",
        _funnel(item),
    ]
    for step in item["steps"]:
        if step.get("variants"):
            parts.append(_variants(name, step))
    parts.append(_failures(name, item, *data.failures.get(name, ([], []))))
    parts.append("</section>")
    return "\n".join(parts)


FUNNEL = ("reached", "sent", "opened", "clicked", "replied", "bounced", "failed")
OF_SENT = ("opened", "clicked", "replied", "bounced")


def _funnel(item: dict[str, Any]) -> str:
    name = item["sequence"]
    head = "".join(f'<th class="n">{c}</th>' for c in FUNNEL)
    rows = []
    for step in item["steps"]:
        title = f'<b>{_e(step["id"])}</b> <span class="muted">{_e(step["type"])}</span>'
        cells = [_cell("step", title)]
        for column in FUNNEL:
            whole = step["sent"] if column in OF_SENT else step["reached"]
            rate = (
                f" <small>{_pct(step['rates'][column])}</small>"
                if column in ("sent", "failed", *OF_SENT) and whole
                else ""
            )
            cells.append(
                _num(column, int(step[column]), rate, sequence=name, step=step["id"], count=column)
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        '<table class="stack funnel"><thead><tr><th>step</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        '<p class="muted small">Sent and failed: of those who reached the step. Opened, '
        "clicked, replied, bounced: contacts, of the messages sent.</p>"
    )


VARIANT_COLUMNS = ("sent", "opened", "clicked", "replied", "bounced", "unsubscribed")
VERDICTS = {"replied": "Replies", "opened": "Opens", "clicked": "Clicks"}


def _variants(name: str, step: dict[str, Any]) -> str:
    head = "".join(f'<th class="n">{c}</th>' for c in VARIANT_COLUMNS)
    rows = []
    for v in step["variants"]:
        label = _e(v["id"]) + (f' <span class="muted">{_e(v["name"])}</span>' if v["name"] else "")
        label += " <b>(winner)</b>" if v["winner"] else ""
        label += f' <small class="muted">{v["share"]:.0%} of enrollments</small>'
        cells = [_cell("variant", label)]
        for column in VARIANT_COLUMNS:
            n = int(v[column])
            shown = column != "sent" and v["sent"]
            rate = f" <small>{_pct(v['rates'][column])}</small>" if shown else ""
            cells.append(
                _num(column, n, rate, sequence=name, step=step["id"], variant=v["id"], count=column)
            )
        rows.append(f"<tr>{''.join(cells)}</tr>")
    verdicts = []
    for metric, said in VERDICTS.items():
        found = step["comparison"].get(metric)
        if found is None:
            continue
        sure = " sure" if found["enough"] and found["probability"] >= 0.95 else ""
        verdicts.append(
            f'<p class="verdict{sure}"{_attrs(sequence=name, step=step["id"], metric=metric)}>'
            f"<b>{said}:</b> {_e(found['verdict'])}</p>"
        )
    winner = f" · winner: {_e(step['winner'])}" if step.get("winner") else ""
    return (
        f"<h3>A/B test of step {_e(step['id'])}{winner}</h3>"
        '<table class="stack variants"><thead><tr><th>variant</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{''.join(verdicts)}"
    )


def _failures(
    name: str,
    item: dict[str, Any],
    enrollments: list[EnrollmentFailure],
    messages: list[MessageFailure],
) -> str:
    rows = [
        _row(
            "enrollments stuck",
            "",
            stuck.reason,
            stuck.contact,
            _num("count", stuck.count, sequence=name, failure="enrollment", reason=stuck.reason),
        )
        for stuck in enrollments
    ]
    rows += [
        _row(
            "messages not delivered",
            failed.step,
            failed.error,
            failed.contact,
            _num(
                "count",
                failed.count,
                sequence=name,
                failure="message",
                step=failed.step,
                reason=failed.error,
            ),
        )
        for failed in messages
    ]
    rows += [
        _row(
            "rejected in approvals",
            s["id"],
            "a person said no",
            "",
            _num("count", int(s["rejected"]), sequence=name, failure="rejected", step=s["id"]),
        )
        for s in item["steps"]
        if s["rejected"]
    ]
    if not rows:
        return '<p class="muted small">No failures.</p>'
    return (
        '<h3>Failures</h3><table class="stack failures"><thead><tr><th>what</th><th>step</th>'
        '<th>reason</th><th class="n">count</th><th>for example</th></tr></thead>'
        f"<tbody>{''.join(rows[:MAX_ACTIONS])}</tbody></table>"
    )


def _row(what: str, step: str, reason: str, example: str, count: str) -> str:
    return (
        f"<tr>{_cell('what', _e(what))}{_cell('step', _e(step))}{_cell('reason', _e(reason))}"
        f"{count}{_cell('for example', _e(example))}</tr>"
    )


SHOWN_ACTIONS = 30  # the most overdue first; the rest are counted


def _actions(data: ReportData) -> str:
    due = data.actions
    count = f'<span class="muted"{_attrs(actions_due=len(due))}>({len(due):,})</span>'
    head = f"<h2>Actions due {count}</h2>"
    if not due:
        return f"{head}<p>None: nothing waits for a person.</p>"
    names = {item["sequence"]: item["name"] for item in data.shown}
    tz = data.zone
    rows = []
    for a in due[:SHOWN_ACTIONS]:
        late = a.status == "overdue"
        when = _e(_when(a.due_at, tz)) + (" (overdue)" if late else "")
        rows.append(
            f"<tr{_attrs(action=a.id, sequence=a.sequence, status=a.status)}>"
            + _cell("due", when, ' class="overdue"' if late else "")
            + _cell("contact", _e(data.people.get(a.contact, a.contact)))
            + _cell("assignee", _e(data.assignees.get((a.sequence, a.step), "")))
            + _cell("what", _e(a.title or a.type))
            + _cell("sequence", _e(names.get(a.sequence, a.sequence)))
            + "</tr>"
        )
    more = len(due) - SHOWN_ACTIONS
    note = (
        f'<p class="muted">and {more:,} more (seqctl actions --due lists them)</p>'
        if more > 0
        else ""
    )
    return (
        f'{head}<table class="stack actions"><thead><tr><th>due</th><th>contact</th>'
        "<th>assignee</th><th>what</th><th>sequence</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )
