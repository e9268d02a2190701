"""Templates that would run for minutes, render 100 MB or allocate gigabytes fail with a reason,
quickly and without the memory; ordinary templates render as plain Jinja renders them."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from seqctl.render import (
    Limits,
    RenderError,
    RenderLimit,
    RenderTimeout,
    configure,
    evaluate,
    render,
    sandbox,
    template_context,
    watchdog,
)
from seqctl.render import limits as render_limits


@pytest.fixture(autouse=True)
def quick() -> Iterator[None]:
    """A short time limit, and no template remembered as too slow by an earlier test."""
    before = render_limits.LIMITS
    configure(Limits(seconds=0.3))
    sandbox._TIMED_OUT.clear()
    yield
    configure(before)
    sandbox._TIMED_OUT.clear()


NESTED_RANGES = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ 'x'|center(1100000000) }}", "center would make 1,100,000,000 characters"),
        ("{{ 'ab' * 1000000000 }}", "'*' would make 2,000,000,000 characters"),
        ("{{ 1000000000 * 'ab' }}", "'*' would make 2,000,000,000 characters"),
        ("{{ ['a'] * 1000000000 }}", "'*' would make 1,000,000,000 characters"),
        ("{{ lipsum(2000000) }}", "lipsum would make"),
        ("{{ lipsum(1, max=2000000000) }}", "lipsum would make"),
        ("{{ '%s'|format('x' * 20000000) }}", "'*' would make 20,000,000 characters"),
        ("{{ '%999999999s'|format(1) }}", "format would make"),
        ("{{ '%.999999999f'|format(1) }}", "format would make"),
        ("{{ '%*d' % (999999999, 1) }}", "'%' would make"),
        ("{{ '{:>999999999}'.format(1) }}", "format() would make"),
        ("{{ '{0:{1}}'.format(1, 999999999) }}", "format() would make"),
        ("{{ 'x'.ljust(1000000000) }}", "ljust() would make"),
        ("{{ 'x'.zfill(1000000000) }}", "zfill() would make"),
        ("{{ '\\t'.expandtabs(1000000000) }}", "expandtabs() would make"),
        ("{{ 'abc'.replace('', 'y' * 10000000) }}", "replace() would make"),
        ("{{ ('x' * 100).translate({120: 'y' * 1000000}) }}", "translate() would make"),
        ("{{ (1).to_bytes(1000000000, 'big') }}", "to_bytes() would make"),
        ("{{ 'x'|indent(1000000000, true) }}", "indent would make"),
        ("{{ ('a\\n' * 1000000)|indent('x' * 20) }}", "indent would make 22,000,0"),
        ("{{ ('a ' * 1000000)|wordwrap(1, wrapstring='y' * 100) }}", "wordwrap would make"),
        ("{{ 'abc'|replace('', 'y' * 10000000) }}", "replace would make"),
        ("{{ range(10)|batch(1000000000, 'x')|list }}", "batch would make"),
        ("{{ range(10)|slice(1000000000)|list }}", "slice would make"),
        ("{{ (range(1000)|list) * 100000 }}", "'*' would make 100,000,000 characters"),
        ("{{ 2 ** 1000000000 }}", "'**' would make a number of about 1,000,000,000 digits"),
        ("{{ (-7) ** 100000000 }}", "'**' would make a number"),
        ("{% set a = [1] * 1000 %}{% set b = [a] * 1000 %}{% set c = [b] * 1000 %}", "list"),
        (
            "{% set a = range(1000)|list %}{% set b = [a,a,a,a,a,a,a,a,a,a] %}"
            "{% set c = [b,b,b,b,b,b,b,b,b,b] %}{% set d = [c,c,c,c,c,c,c,c,c,c] %}"
            "{% set e = [d,d,d,d,d,d,d,d,d,d] %}{{ e }}",
            "a list or mapping would be more than 16,000,000 characters as text",
        ),
        (
            "{% set a = range(1000)|list %}{% set b = dict(x=a) %}"
            "{% set c = dict(a=b, b=b, c=b, d=b, e=b, f=b, g=b, h=b, i=b, j=b) %}"
            "{% set d = dict(a=c, b=c, c=c, d=c, e=c, f=c, g=c, h=c, i=c, j=c) %}"
            "{% set e = dict(a=d, b=d, c=d, d=d, e=d, f=d, g=d, h=d, i=d, j=d) %}"
            "{% set f = dict(a=e, b=e, c=e, d=e, e=e, f=e, g=e, h=e, i=e, j=e) %}{{ f|tojson }}",
            "the arguments of a call would be more than 16,000,000 characters as text",
        ),
        (
            "{% set s = 'x' * 10000000 %}{{ s ~ s ~ s ~ s }}",
            "'~' would make 40,000,000 characters",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "builds more than 16,000,000 characters",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
            "{% set ns.s = ns.s + ns.s %}{% endfor %}",
            "builds more than 16,000,000 characters",
        ),
        (
            "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}{% endmacro %}"
            "{{ m() }}",
            "builds more than 16,000,000 characters",
        ),
        ("{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}", "longer than 1,000,000"),
        (
            "{% set s = 'x' * 600000 %}" + "{{ s }}" * 5,
            "the rendered text is longer than 1,000,000 characters",
        ),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}"
            + "x" * 100
            + "{% endfor %}{% endfor %}",
            "the rendered text is longer than 1,000,000 characters",
        ),
    ],
)
def test_a_bomb_fails_with_its_reason_before_it_allocates(source: str, reason: str) -> None:
    # The size bound must trip, not the clock: room for a slow machine (or coverage's tracing)
    configure(Limits(seconds=10))
    started = time.monotonic()
    with pytest.raises(RenderLimit) as caught:
        render(source, {})
    assert reason in str(caught.value)
    if "rendered text" not in reason:  # the whole text is too long: no one line makes it
        assert "(template line 1)" in str(caught.value)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "source",
    [
        NESTED_RANGES,
        "{% macro f(n) %}{% if n %}{% for i in range(10) %}{{ f(n - 1) }}{% endfor %}{% endif %}"
        "{% endmacro %}{{ f(12) }}",
        "{% for a in range(100000) %}{% set x = range(1000)|sum %}{% endfor %}",
    ],
)
def test_a_template_that_does_not_end_times_out(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match=r"rendering took longer than 0.3 s"):
        render(source, {})
    assert time.monotonic() - started < 3


def test_work_inside_one_filter_is_stopped_by_the_watchdog() -> None:
    """No loop or call to check the time in: textwrap breaking a 900,000-letter word."""
    started = time.monotonic()
    with pytest.raises(RenderTimeout):
        render("{{ ('x' * 900000)|wordwrap(10) }}", {})
    assert time.monotonic() - started < 3


def test_a_template_that_timed_out_is_not_run_again_for_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(RenderTimeout):
        render(NESTED_RANGES, {})
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="for an earlier message: not tried again for a"):
        render(NESTED_RANGES, {})
    assert time.monotonic() - started < 0.1
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}", {}) == "012"
    later = time.monotonic() + sandbox.RETRY_AFTER
    monkeypatch.setattr(sandbox, "monotonic", lambda: later)  # a minute on: it is tried again
    with pytest.raises(RenderTimeout, match=r"longer than 0.3 s \(a loop"):
        render(NESTED_RANGES, {})


def test_a_macro_calling_itself_without_end() -> None:
    with pytest.raises(RenderError, match="calls itself without end"):
        render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(1) }}", {})


def test_a_condition_is_bounded_too() -> None:
    slow = "('x' * 900000)|wordwrap(10)|length > 0"
    with pytest.raises(RenderTimeout):
        evaluate(slow, {})
    started = time.monotonic()
    with pytest.raises(RenderTimeout, match="for an earlier message"):
        evaluate(slow, {})
    assert time.monotonic() - started < 0.1
    with pytest.raises(RenderLimit, match="center would make"):
        evaluate("'x'|center(1100000000) == 'x'", {})
    with pytest.raises(RenderLimit, match=r"^'\*' would make 1,000,000,000 characters"):
        evaluate("(range(1000)|list) * 1000000 == []", {})
    with pytest.raises(RenderLimit, match="would make a list of more than"):
        evaluate("[range(1000)|list] * 10000 == []", {})


def test_limits_hold_in_threads_without_the_watchdog() -> None:
    caught: list[BaseException] = []

    def work() -> None:
        try:
            render(NESTED_RANGES.replace("b in", "c in"), {})
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            caught.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert [type(exc) for exc in caught] == [RenderTimeout]


def test_the_watchdog_stops_its_timer_when_no_render_runs() -> None:
    render("{{ 1 }}", {})  # arms it
    budget = render_limits.current()
    assert budget.armed and signal.getitimer(signal.ITIMER_REAL)[1] == watchdog.PERIOD
    watchdog._alarm(signal.SIGALRM, None)  # a tick between two renders: nothing raised
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert not budget.armed


def test_a_deeply_nested_template_is_an_error_not_a_crash() -> None:
    with pytest.raises(RenderError, match="too deeply nested"):
        render("{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}", {})


ORDINARY = [
    "Hi {{ contact.first_name }}, {{ sender.name | upper }}!",
    "{% for o in contact.orders %}- {{ o.name }}: {{ '%.2f'|format(o.total) }}\n{% endfor %}",
    "{% for o in contact.orders %}{{ loop.index }}/{{ loop.length }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}",
    "{% macro row(o) %}[{{ o.name|center(10) }}]{% endmacro %}"
    "{% for o in contact.orders %}{{ row(o) }}{% endfor %}",
    "{% set names = contact.orders|map(attribute='name')|list %}{{ names|join(', ') }}",
    "{{ ('a' ~ contact.first_name ~ 1) * 3 }} {{ [contact.first_name, 'x'] + ['y'] }}",
    "{{ {'a': contact.first_name, 'b': [1, 2]} }} {{ (1, contact.first_name) }}",
    "{{ '{} has {:>5} orders'.format(contact.first_name, contact.orders|length) }}",
    "{{ '%s and %(x)s' % ('a',) if false else '%(x)s!' % {'x': contact.first_name} }}",
    "{{ contact.bio|wordwrap(20)|indent(2, true) }}\n{{ contact.bio|replace('o', '0') }}",
    "{{ range(25)|batch(4, '-')|list }} {{ range(10)|slice(3)|list }}",
    "{{ range(5)|batch(2)|list|sum(start=[]) }} {{ range(10)|sum }} {{ 2 ** 10 }}",
    "{% filter upper %}{{ contact.first_name }}{% endfilter %}"
    "{% set block %}{{ contact.first_name }}!{% endset %}{{ block }}",
    "{% for x in range(100) %}{{ x }}{% endfor %} {{ lipsum(2, false, 5, 10)|length > 0 }}",
    "{% for k, v in {'a': 1, 'b': 2}|dictsort %}{{ k }}={{ v }};{% endfor %}",
    "{{ '-'.join(['a', contact.first_name]) }} {{ '{n}!'.format(n=contact.first_name) }} "
    "{{ '{n}?'.format_map({'n': contact.first_name}) }} {{ 'Hi'.center(6) }}",
    "{{ '100%% %s'|format(contact.first_name) }} {{ 'aaa'|replace('a', 'b', 2) }} "
    "{{ contact.orders|join(', ', attribute='name') }} {{ contact.orders|sum(attribute='total') }}"
    " {{ 'x' * 0 }}{{ [1] * -1 }} {{ 3 ** 2 }} {{ 2 ** -1 }} {{ '%(a)s' % {'a': 1} }}",
]


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_templates_render_as_plain_jinja_renders_them(source: str) -> None:
    contact: dict[str, Any] = {
        "first_name": "Maria",
        "bio": "Loves long walks on the beach and good documentation " * 3,
        "orders": [{"name": f"order {i}", "total": i * 10.5} for i in range(20)],
    }
    variables = template_context(contact, sender={"name": "Ana"})
    plain = ImmutableSandboxedEnvironment(keep_trailing_newline=True)
    plain.globals["lipsum"] = lambda *args: "lorem"
    expected = plain.from_string(source).render(contact=contact, sender={"name": "Ana"})
    assert render(source, variables) == expected


def test_memory_that_no_size_check_sees_is_bounded_too() -> None:
    """Escaping a long text in a loop inside a macro: copies no guard measures one by one."""
    configure(Limits(seconds=30))
    source = (
        "{% set s = '<' * 1000000 %}{% macro m() %}{% for i in range(100000) %}{{ s }}"
        "{% endfor %}{% endmacro %}{{ m() }}"
    )
    with pytest.raises(RenderLimit, match="needs more than 128 MB of memory"):
        render(source, {}, html=True)


def test_no_watchdog_when_something_else_owns_sigalrm() -> None:
    theirs = signal.signal(signal.SIGALRM, lambda signum, frame: None)
    try:
        watchdog._state["unavailable"] = False
        budget = render_limits.current()
        budget.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        assert render("{{ 1 }}", {}) == "1"
        assert watchdog._state["unavailable"] and budget.armed  # not tried again
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        with pytest.raises(RenderTimeout):  # the guards alone still stop a loop
            render(NESTED_RANGES.replace("a in", "z in"), {})
    finally:
        signal.signal(signal.SIGALRM, theirs)
        watchdog._state["unavailable"] = False
        render_limits.current().armed = False


def test_a_forked_process_arms_its_own_timer() -> None:
    """The tick's shards are forked: the parent's timer does not follow them."""
    render("{{ 1 }}", {})
    assert render_limits.current().armed
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code
        code = 0 if not render_limits.current().armed else 1
        render("{{ 1 }}", {})
        code |= 0 if signal.getitimer(signal.ITIMER_REAL)[1] == watchdog.PERIOD else 2
        os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize(
    "source",
    [
        "{% set d = dict.fromkeys(range(100000), 'x' * 1000000) %}{{ d }}",
        "{% set d = dict.fromkeys(range(100000), 'x' * 1000000) %}{{ d|tojson }}",
        "{% set l = ([none] * 1000)|map('default', 'x' * 100000)|list %}{{ l|string|length }}",
        "{% set l = ([none] * 1000)|map('default', 'x' * 100000)|list %}{{ l|upper }}",
        "{% set l = ([none] * 1000)|map('default', 'x' * 100000)|list %}{{ l|center(5) }}",
    ],
)
def test_a_list_sharing_one_long_text_is_never_made_into_text(source: str) -> None:
    """The list is small in memory; as text it would be 100 GB, made in one call."""
    with pytest.raises(RenderLimit, match="would be more than 16,000,000 characters as text"):
        render(source, {})
