"""Hostile input, generated: what web forms, CRM exports and pull requests can hold."""

from __future__ import annotations

from hypothesis import strategies as st

# Characters that break naive code: line and paragraph separators, NUL, BOM, bidi controls,
# RFC 2047 encoded words, CSV and JSON syntax, Jinja delimiters, a YAML alias.
NASTY = [
    "\r\n", "\r", "\n", "\x00", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029", "\ufeff",
    "\u202e", '"', "'", ",", ";", "\\", "{{", "}}", "{%", "%}", "*a", "&a", "\t", "=?utf-8?q?",
    "=0D=0ABcc:_x@evil.test?=", "Bcc: x@evil.test", "田中", "Ω", "😀", "NaN", "Infinity", "-0",
    "1e999", "null", "true", "../", "/etc/passwd", "%s", "${HOME}",
]  # fmt: skip

nasty_text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)), max_size=8).map(
    "".join
)

cell = st.one_of(nasty_text, st.text(max_size=30), st.just(""), st.integers().map(str))

HEADERS = ["key", "email", "phone", "timezone", "first_name", "company", "Email", " key "]


@st.composite
def csv_file(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.one_of(st.sampled_from(HEADERS), cell), min_size=1, max_size=6))
    lines = [",".join(header)]
    for _ in range(draw(st.integers(0, 8))):
        cells = draw(st.lists(cell, min_size=0, max_size=len(header) + 2))
        lines.append(",".join(_quoted(c) if draw(st.booleans()) else c for c in cells))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return _encoded(draw, text)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), cell)
json_value = st.recursive(
    json_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(HEADERS), cell), children, max_size=5),
    ),
    max_leaves=12,
)
RAW_JSON_LINES = [
    '{"key": "a", "score": NaN}', '{"key": "b", "x": Infinity}', '{"key": "c", "x": -Infinity}',
    "[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000, "[" * 3000,
    '{"key": "d"', '{"key": "e"}}', "\x00", "{}", "[]", '"just a string"', "42",
    '{"key": "' + "x" * 200_000 + '"}', '{"key": 1e999}', '{"email": "a@b.test", "key": null}',
]  # fmt: skip


@st.composite
def jsonl_file(draw: st.DrawFn) -> bytes:
    import json

    lines = []
    for _ in range(draw(st.integers(0, 8))):
        choice = draw(st.integers(0, 3))
        if choice == 0:
            lines.append(draw(st.sampled_from(RAW_JSON_LINES)))
        elif choice == 1:
            lines.append(draw(cell))
        else:
            record = draw(json_value)
            lines.append(json.dumps(record, ensure_ascii=draw(st.booleans())))
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    return _encoded(draw, text)


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _encoded(draw: st.DrawFn, text: str) -> bytes:
    """UTF-8, sometimes with a BOM, sometimes with a bad byte dropped in somewhere."""
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if data and draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\x80", b"\xed\xa0\x80"]))
            + data[at:]
        )
    return data
