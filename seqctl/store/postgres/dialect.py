"""The queries' SQL, as PostgreSQL reads it.

The query classes (seqctl/store/*.py) are written once, in the SQL both databases share, with
SQLite's `?` placeholders and the few SQLite spellings listed below. This module rewrites
them for PostgreSQL, once per distinct statement (cached). What it cannot rewrite (rowid,
SQL functions defined in Python, counting changes) the PostgreSQL store does its own way.

    ?                               %s  (and a literal % becomes %%)
    INSERT OR IGNORE INTO ...       INSERT INTO ... ON CONFLICT DO NOTHING
    json_each(?) [AS j]             json_array_elements_text(%s::json) AS j(value)
    CROSS JOIN t AS x ON            JOIN t AS x ON
    json_extract(x, '$.a.b')        (x::json #>> '{a,b}')
    col = ? COLLATE NOCASE          lower(col) = lower(%s)
    INDEXED BY name                 (dropped: PostgreSQL's planner chooses)
"""

from __future__ import annotations

import functools
import re

_STRING = re.compile(r"'(?:[^']|'')*'")
_INSERT_IGNORE = re.compile(r"\bINSERT OR IGNORE INTO\b", re.IGNORECASE)
_RETURNING = re.compile(r"\s+RETURNING\s", re.IGNORECASE)
_JSON_EACH = re.compile(r"\bjson_each\(\?\)(?:\s+AS\s+(\w+))?", re.IGNORECASE)
_CROSS_JOIN = re.compile(r"\bCROSS JOIN\s+(\w+(?:\s+AS)?\s+\w+)\s+ON\b", re.IGNORECASE)
_JSON_EXTRACT = re.compile(r"\bjson_extract\(([\w.]+),\s*'\$\.([\w.]+)'\)", re.IGNORECASE)
_NOCASE = re.compile(r"\b([\w.]+)\s*=\s*\?\s+COLLATE NOCASE\b", re.IGNORECASE)
_INDEXED_BY = re.compile(r"\s+INDEXED BY\s+\w+", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """PostgreSQL's spelling of a query written for SQLite (see the module's table)."""
    sql = _JSON_EXTRACT.sub(_json_path, sql)  # its path is a literal: before the split
    # Rewrite around string literals only: a '?' or '%' inside quotes is data, not syntax.
    parts: list[str] = []
    last = 0
    for literal in _STRING.finditer(sql):
        parts.append(_code(sql[last : literal.start()]))
        parts.append(literal.group(0).replace("%", "%%"))
        last = literal.end()
    parts.append(_code(sql[last:]))
    text = "".join(parts)
    if _INSERT_IGNORE.search(text):
        text = _INSERT_IGNORE.sub("INSERT INTO", text)
        returning = _RETURNING.search(text)
        at = returning.start() if returning else len(text.rstrip().rstrip(";"))
        text = f"{text[:at]} ON CONFLICT DO NOTHING{text[at:]}"
    return text


def _code(sql: str) -> str:
    """A stretch of SQL with no string literal in it."""
    sql = sql.replace("%", "%%")
    sql = _INDEXED_BY.sub("", sql)
    sql = _NOCASE.sub(r"lower(\1) = lower(?)", sql)
    sql = _JSON_EACH.sub(
        lambda m: f"json_array_elements_text(?::json) AS {m.group(1) or 'j'}(value)", sql
    )
    sql = _CROSS_JOIN.sub(r"JOIN \1 ON", sql)
    return sql.replace("?", "%s")


def _json_path(match: re.Match[str]) -> str:
    return f"({match.group(1)}::json #>> '{{{match.group(2).replace('.', ',')}}}')"
