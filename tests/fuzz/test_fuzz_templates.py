"""Templates that pass lint but run away, and contact data that tries to break out: a render
either gives text within the size limit or fails that one message with a reason, in bounded
time."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from seqctl.render import RenderError, render
from tests.fuzz.harness import FUZZ
from tests.fuzz.strategies import cell, nasty_text

SECONDS = 15.0  # the render limit plus room for a loaded machine
MAX_OUTPUT = 10 * 1024 * 1024  # no render may hand back more than this

EXPRESSIONS = [
    "contact.first_name", "contact.missing | default('x')", "contact.nested.deep",
    "range(10**9) | list | length", "'x' * 10**9", "'x' ~ contact.first_name * 1000",
    "10 ** 10 ** 10", "'ab' | center(1100000000)", "'a' | indent(10**9)",
    "'%s' | format('y' * 10**8)", "lipsum(2000000)", "'a b ' * 10**7 | wordwrap(3)",
    "contact.__class__", "contact._data", "''.__class__.__mro__", "cycler", "joiner()",
    "namespace(a=1)", "'x' | replace('', 'y' * 10**6)", "[1] * 10**9",
    "contact.first_name | truncate(10**9)", "(contact.first_name ~ ' ') * 10**6",
    "contact.items() | list", "contact | attr('__init__')", "self._TemplateReference__context",
]  # fmt: skip
BLOCKS = [
    "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}",
    "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s | length }}",
    "{% if contact.first_name %}Hi {{ contact.first_name }}{% else %}Hi{% endif %}",
    "{% raw %}{{ not rendered }}{% endraw %}",
    "{% include '/etc/passwd' %}", "{% extends '../secret' %}", "{% import 'x' as y %}",
]  # fmt: skip


@st.composite
def template(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 2))
        if kind == 0:
            parts.append("{{ " + draw(st.sampled_from(EXPRESSIONS)) + " }}")
        elif kind == 1:
            parts.append(draw(st.sampled_from(BLOCKS)))
        else:
            parts.append(draw(nasty_text))
    return "".join(parts)


contact_data = st.dictionaries(
    st.sampled_from(["first_name", "company", "nested", "email", "__class__", "_data"]),
    st.one_of(cell, st.dictionaries(st.just("deep"), cell, max_size=1)),
    max_size=5,
)


@FUZZ
@given(source=template(), contact=contact_data, html=st.booleans())
def test_runaway_templates_fail_alone_and_fast(
    source: str, contact: dict[str, Any], html: bool
) -> None:
    start = time.perf_counter()
    try:
        text = render(source, {"contact": contact}, html=html)
    except RenderError as exc:
        assert str(exc)  # a reason for the failed message
    else:
        assert isinstance(text, str) and len(text) <= MAX_OUTPUT
    assert time.perf_counter() - start < SECONDS
