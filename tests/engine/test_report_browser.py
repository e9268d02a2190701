"""The report in a real browser (headless Chromium) at a laptop's and a phone's width: the
charts render with readable axes, nothing overflows sideways, and every number on screen is
the one `seqctl status --json` gives. Skipped when Chromium is not installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import DevTools, chromium
from tests.engine.month import NOW, Month
from tests.engine.test_report import PERIOD

# What the page looks like to someone reading it, measured by the browser.
MEASURE = """(() => {
  const root = document.documentElement;
  const seen = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const box = (e) => { const r = e.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
            height: r.height}; };
  const charts = [...document.querySelectorAll('figure.chart')].map((figure) => {
    const plot = figure.querySelector('svg.plot');
    return {
      name: plot.dataset.chartBox,
      plot: box(plot),
      axis: [...figure.querySelectorAll('svg.axis text')].map((t) => ({text: t.textContent,
        ...box(t), size: parseFloat(getComputedStyle(t).fontSize)})),
      bars: [...plot.querySelectorAll('rect')].map((r) => ({day: r.dataset.day,
        value: Number(r.dataset.value), ...box(r)})),
      labels: [...plot.querySelectorAll('text')].filter(seen).map((t) => ({text: t.textContent,
        ...box(t), size: parseFloat(getComputedStyle(t).fontSize)})),
    };
  });
  const numbers = [...document.querySelectorAll('[data-value]')]
    .filter((e) => seen(e) && e.tagName !== 'rect')
    .map((e) => ({...e.dataset, text: e.innerText.trim()}));
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => seen(e) && e.getBoundingClientRect().right > root.clientWidth + 0.5)
    .map((e) => e.tagName + '.' + e.className.baseVal ?? e.className);
  const small = [...document.querySelectorAll('td, p, b, span, h2, h3')]
    .filter((e) => seen(e) && e.innerText.trim() && parseFloat(getComputedStyle(e).fontSize) < 11)
    .map((e) => e.innerText.trim().slice(0, 30));
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, charts, numbers, wide,
          small};
})()"""


@pytest.fixture(scope="module")
def browser() -> str:
    return chromium()


@pytest.mark.parametrize(("width", "mobile"), [(1280, False), (375, True)], ids=["laptop", "phone"])
def test_the_report_reads_in_chromium(
    browser: str, month: Month, tmp_path: Path, width: int, mobile: bool
) -> None:
    page = month.root / "report.html"
    month.run("report", "--out", str(page), now=NOW)
    with DevTools(browser, tmp_path / "profile") as tab:
        tab.open(page, width=width, height=900, mobile=mobile)
        seen: Any = tab.evaluate(MEASURE)
        tab.screenshot(tmp_path / f"report-{width}.png")  # kept with the test's files
    # Nothing sticks out sideways: no horizontal scrolling on a laptop or a phone.
    assert seen["scrollWidth"] <= seen["clientWidth"] <= width
    assert seen["wide"] == []
    assert seen["small"] == []  # no text under 11 px
    assert_charts_render(seen["charts"], width)
    assert_numbers_are_status(seen["numbers"], month)


def assert_charts_render(charts: list[dict[str, Any]], width: int) -> None:
    assert [c["name"] for c in charts] == ["sent", "replied"]
    for chart in charts:
        plot = chart["plot"]
        assert plot["width"] > width * 0.6 and plot["height"] >= 140
        assert plot["right"] <= width
        bars = chart["bars"]
        assert len(bars) == 31  # one per local day of the period
        drawn = [b for b in bars if b["value"]]
        assert drawn and all(b["height"] > 0 and b["width"] >= 2 for b in drawn)
        # Heights in proportion to the counts: a bar twice as high means twice as many.
        per_unit = {round(b["height"] / b["value"], 2) for b in drawn}
        assert max(per_unit) - min(per_unit) < 0.05
        assert all(plot["left"] <= b["left"] and b["right"] <= plot["right"] + 0.5 for b in bars)
        # A count axis: 0 at the bottom, a round number at the top at least as big as any bar.
        counts = [int(t["text"].replace(",", "")) for t in chart["axis"]]
        assert counts[0] == 0 and counts[-1] >= max(b["value"] for b in bars)
        assert all(t["size"] >= 11 for t in chart["axis"])
        # Dates under the bars, readable, none on top of another, none outside the chart.
        labels = sorted(chart["labels"], key=lambda t: t["left"])
        assert len(labels) >= (5 if width < 600 else 13)
        assert all(t["size"] >= 11 for t in labels)
        assert all(a["right"] <= b["left"] for a, b in zip(labels, labels[1:], strict=False))
        assert (
            labels[0]["left"] >= plot["left"] - 0.5 and labels[-1]["right"] <= plot["right"] + 0.5
        )
        mondays = {"2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"}
        assert {t["text"] for t in labels} >= mondays


def assert_numbers_are_status(numbers: list[dict[str, Any]], month: Month) -> None:
    """What the reader sees, cell by cell, against `status --json` for the same period."""
    statuses = {s["sequence"]: s for s in month.run("status", "--json", *PERIOD, now=NOW)}
    checked = 0
    for cell in numbers:
        shown = cell["text"].split()[0].replace(",", "")
        if "count" in cell and "sequence" in cell and "step" in cell and "failure" not in cell:
            [step] = [s for s in statuses[cell["sequence"]]["steps"] if s["id"] == cell["step"]]
            if "variant" in cell:
                [step] = [v for v in step["variants"] if v["id"] == cell["variant"]]
            expected = step[cell["count"]]
        elif "state" in cell:
            expected = statuses[cell["sequence"]]["enrollments"][cell["state"]]
        elif cell.get("total") == "active":
            expected = sum(
                s["enrollments"]["active"] + s["enrollments"]["waiting"] for s in statuses.values()
            )
        elif cell.get("total") == "reply_rate":
            replied = sum(s["totals"]["replied"] for s in statuses.values())
            contacted = sum(s["totals"]["contacted"] for s in statuses.values())
            assert shown == f"{replied / contacted:.1%}"
            checked += 1
            continue
        elif "total" in cell:
            expected = sum(s["totals"][cell["total"]] for s in statuses.values())
        else:
            continue
        assert shown == str(expected) == cell["value"], cell
        checked += 1
    assert checked > 60
