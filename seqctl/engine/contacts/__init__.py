"""Contacts from CSV or JSON Lines: read row by row, refuse bad rows, upsert by key in batches.

`source.py` opens a file (or standard input) and tells its format; `lines.py` checks each line
(UTF-8, no NUL, a sane length); `csv_rows.py` and `jsonl_rows.py` read each format's rows
(`strict_json.py` refuses JSON that could not be printed back); `rows.py` is what a row becomes
(a contact or a refusal) and the checks they share; `importing.py` upserts the good rows;
`show.py` looks one up. Import from here.
"""

from __future__ import annotations

from seqctl.engine.contacts.importing import BATCH_SIZE, ImportReport, import_contacts
from seqctl.engine.contacts.lines import MAX_LINE, Lines
from seqctl.engine.contacts.rows import ROUTING, Parsed, ParsedRow, Refusal
from seqctl.engine.contacts.show import contact, details
from seqctl.engine.contacts.source import (
    STDIN_NAME,
    SUFFIXES,
    Format,
    format_of,
    open_source,
    plain_keys,
    read_contacts,
    sniff_keys,
)

__all__ = [
    "BATCH_SIZE",
    "ROUTING",
    "STDIN_NAME",
    "SUFFIXES",
    "Format",
    "ImportReport",
    "Lines",
    "MAX_LINE",
    "Parsed",
    "ParsedRow",
    "Refusal",
    "contact",
    "details",
    "format_of",
    "import_contacts",
    "open_source",
    "plain_keys",
    "read_contacts",
    "sniff_keys",
]
