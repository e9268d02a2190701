"""The return date an out-of-office reply states, in the forms people write.

"back on 12 January", "I'll be back January 12th", "zurück am 12.01.", "wieder ab dem 12.
Januar", "de volta em 12/01", "regreso el 12 de enero", "de retour le 12 janvier", ISO dates,
and a weekday alone ("back on Monday"). A date after "until" ("bis", "até", "hasta", "jusqu'au")
is the last day away: the return is the day after.

A date without a year takes the year that puts it on or after the mail's day and within about
ten months of it (a mail of 20 December saying "back on 12 January" means next January). A date
before the mail's day is stale text (an autoresponder left on since the last holiday): it is
reported, not used.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

# How far ahead a date without a year may be, and any stated return at all.
MAX_AHEAD_WITHOUT_YEAR = timedelta(days=300)
MAX_AHEAD = timedelta(days=400)
# Characters between the words that announce the date and the date itself ("back in the office
# on Monday, " is 24).
WINDOW = 48


class Lang(Enum):
    """The language of the words that announced a date: it decides 1/12 (US) or 1/12 (elsewhere)."""

    EN = "en"
    OTHER = "other"


@dataclass(frozen=True)
class ReturnDate:
    """What the text says about the return: the day (None when unusable), the words, a problem."""

    day: date | None
    phrase: str
    problem: str | None = None


def _fold(text: str) -> str:
    """Lower case without accents, one character for one: 'Zurück' reads as 'zuruck' and the
    positions of a match are those of the words as written."""
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    if char.isascii():
        return char.lower()
    lower = unicodedata.normalize("NFD", char)[0].lower()
    return lower if len(lower) == 1 else char


_MONTHS: dict[int, tuple[str, ...]] = {
    1: ("january", "jan", "januar", "janner", "janeiro", "enero", "ene", "janvier", "janv",
        "gennaio", "januari"),
    2: ("february", "feb", "februar", "fevereiro", "fev", "febrero", "fevrier", "fevr",
        "febbraio", "februari"),
    3: ("march", "mar", "marz", "maerz", "marco", "marzo", "mars", "maart"),
    4: ("april", "apr", "abril", "abr", "avril", "avr", "aprile"),
    5: ("may", "mai", "maio", "mayo", "maggio", "mei"),
    6: ("june", "jun", "juni", "junho", "junio", "juin", "giugno"),
    7: ("july", "jul", "juli", "julho", "julio", "juillet", "juil", "luglio"),
    8: ("august", "aug", "agosto", "ago", "aout", "augustus"),
    9: ("september", "sep", "sept", "setembro", "septiembre", "setiembre", "septembre",
        "settembre"),
    10: ("october", "oct", "oktober", "okt", "outubro", "octubre", "octobre", "ottobre"),
    11: ("november", "nov", "novembro", "noviembre", "novembre"),
    12: ("december", "dec", "dezember", "dez", "dezembro", "diciembre", "dic", "decembre",
         "dicembre"),
}  # fmt: skip
_MONTH_OF = {name: number for number, names in _MONTHS.items() for name in names}
_MONTH = "(?:" + "|".join(sorted(_MONTH_OF, key=len, reverse=True)) + r")\b\.?"

_WEEKDAYS: dict[int, tuple[str, ...]] = {
    0: ("monday", "montag", "segunda-feira", "segunda", "lunes", "lundi", "lunedi", "maandag"),
    1: ("tuesday", "dienstag", "terca-feira", "terca", "martes", "mardi", "martedi", "dinsdag"),
    2: ("wednesday", "mittwoch", "quarta-feira", "quarta", "miercoles", "mercredi", "mercoledi",
        "woensdag"),
    3: ("thursday", "donnerstag", "quinta-feira", "quinta", "jueves", "jeudi", "giovedi",
        "donderdag"),
    4: ("friday", "freitag", "sexta-feira", "sexta", "viernes", "vendredi", "venerdi", "vrijdag"),
    5: ("saturday", "samstag", "sonnabend", "sabado", "samedi", "sabato", "zaterdag"),
    6: ("sunday", "sonntag", "domingo", "dimanche", "domenica", "zondag"),
}  # fmt: skip
_WEEKDAY_OF = {name: number for number, names in _WEEKDAYS.items() for name in names}
_WEEKDAY = r"\b(" + "|".join(sorted(_WEEKDAY_OF, key=len, reverse=True)) + r")\b"
_TOMORROW = r"\b(tomorrow|morgen|amanha|manana|demain|domani)\b"

_ORDINAL = r"(?:st|nd|rd|th|\.|º|°|o|er)?"
# Each form of a date, tried in this order at each position.
_FORMS = [
    ("iso", re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")),
    (
        "numeric",
        re.compile(
            r"\b(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|'?\d{2}))?(?!\d)"
        ),
    ),
    (
        "day-month",
        re.compile(
            rf"\b(?P<d>\d{{1,2}}){_ORDINAL}\s*(?:of\s+|de\s+|-\s*|\s)?\s*(?P<mon>{_MONTH})"
            rf"(?:\s*,?\s*(?:de\s+|del\s+)?(?P<y>\d{{4}}))?"
        ),
    ),
    (
        "month-day",
        re.compile(
            rf"\b(?P<mon>{_MONTH})\s*(?:the\s+)?(?P<d>\d{{1,2}}){_ORDINAL}(?!\d)"
            rf"(?:\s*,?\s*(?P<y>\d{{4}}))?"
        ),
    ),
]

# Words after which the date is the first day back, and after which it is the last day away.
_BACK = {
    Lang.EN: r"\bback\b|\breturn(?:ing|s)?\b|\bavailable again\b|\bin the office (?:again )?on\b"
    r"|\breachable again\b",
    Lang.OTHER: r"\bzuruck\b|\bwieder\b|\bvolta\b|\bvolto\b|\bretorn[a-z]*\b|\bregress[a-z]*\b"
    r"|\bvuelta\b|\bvuelvo\b|\bvolvere\b|\bregreso\b|\bregresare\b|\breincorpor[a-z]*\b"
    r"|\bretour\b|\breviendrai\b|\brentre(?:rai)?\b|\brientro\b|\btornero\b|\bterug\b",
}
_UNTIL = {
    Lang.EN: r"\buntil\b|\btill\b|\bthrough\b|\bthru\b",
    Lang.OTHER: r"\bbis\b|\bate\b|\bhasta\b|\bjusqu'(?:au|a)\b|\bjusqu’(?:au|a)\b|\bfino al\b"
    r"|\btot en met\b|\btot\b",
}
# German puts the date first: "ab dem 12.01. wieder im Büro", "ab 12. Januar bin ich wieder da".
_FROM_THEN_AGAIN = re.compile(r"\bab\s+(?:dem\s+|den\s+)?(?=\S)")
_AGAIN_AFTER = re.compile(r"^.{0,30}?\b(?:wieder|zuruck)\b")
_KEYWORDS = re.compile(
    "|".join(
        f"(?P<{kind}_{lang.name}>{words})"
        for kind, table in (("back", _BACK), ("until", _UNTIL))
        for lang, words in table.items()
    )
)
# The date must come before the sentence ends: "back soon. Call 12/3" is not a date.
_SENTENCE_END = re.compile(r"[.!?;]\s+[a-z]{3,}|\n\s*\n|[!?;]")


def find_return_date(text: str, mail_day: date) -> ReturnDate | None:
    """The return date the text states, read relative to the day the mail was written.

    A day stated as the return ("back on", "wieder ab") wins over one inferred from the last
    day away ("until"); among equals, the first in the text; a usable day over a stale one.
    """
    written = " ".join(text.split())
    folded = _fold(written)
    found: list[tuple[int, int, ReturnDate]] = []  # (preference, position, what it says)
    for match in _KEYWORDS.finditer(folded):
        kind, lang = (match.lastgroup or "back_EN").split("_")
        hit = _date_after(folded, match.end(), Lang[lang], mail_day)
        if hit is not None:
            day, end = hit
            if kind == "until":
                day += timedelta(days=1)
            stated = _judged(day, written[match.start() : end], mail_day)
            found.append((0 if kind == "back" else 2, match.start(), stated))
    for match in _FROM_THEN_AGAIN.finditer(folded):
        hit = _date_after(folded, match.end(), Lang.OTHER, mail_day, window=1)
        if hit is not None and _AGAIN_AFTER.search(folded[hit[1] :]):
            found.append(
                (1, match.start(), _judged(hit[0], written[match.start() : hit[1]], mail_day))
            )
    usable = [item for item in found if item[2].day is not None]
    if not found:
        return None
    return min(usable or found, key=lambda item: (item[0], item[1]))[2]


def _judged(day: date, phrase: str, mail_day: date) -> ReturnDate:
    phrase = phrase.rstrip(".,;: ")
    if day < mail_day:
        return ReturnDate(None, phrase, f"{day.isoformat()} is before the mail was sent")
    if day - mail_day > MAX_AHEAD:
        return ReturnDate(None, phrase, f"{day.isoformat()} is more than a year ahead")
    return ReturnDate(day, phrase)


def _date_after(
    text: str, start: int, lang: Lang, mail_day: date, *, window: int = WINDOW
) -> tuple[date, int] | None:
    """(the day, where its words end) of the first date starting within `window` of `start`.

    None when there is none; what looks like a date but is no day (31.02., 14.30) is passed.
    """
    stretch = text[start : start + window + 40]
    ends = _SENTENCE_END.search(stretch)
    limit = min(window, ends.start() if ends else window, len(stretch))
    for position in range(limit):
        if position and stretch[position - 1].isalnum():
            continue  # dates start at a word boundary
        for name, form in _FORMS:
            found = form.match(stretch, position)
            day = _day(name, found, lang, mail_day) if found is not None else None
            if found is not None and day is not None:
                return day, start + found.end()
    weekday = re.search(_WEEKDAY, stretch[:limit])
    if weekday is not None:
        ahead = (_WEEKDAY_OF[weekday.group(1)] - mail_day.weekday() - 1) % 7 + 1
        return mail_day + timedelta(days=ahead), start + weekday.end()
    tomorrow = re.search(_TOMORROW, stretch[:limit])
    if tomorrow is not None:
        return mail_day + timedelta(days=1), start + tomorrow.end()
    return None


def _day(name: str, found: re.Match[str], lang: Lang, mail_day: date) -> date | None:
    groups = found.groupdict()
    if name == "numeric":
        first, second = int(groups["a"]), int(groups["b"])
        # 1/12: January 12 in English (US usage), 1 December elsewhere; 13/1 is clear anywhere.
        month_first = groups["sep"] == "/" and lang is Lang.EN and first <= 12
        if second > 12 and first <= 12:
            month_first = True
        elif first > 12:
            month_first = False
        day, month = (second, first) if month_first else (first, second)
        year = _year(groups["y"]) if groups["y"] else None
    else:
        day = int(groups["d"])
        month = _MONTH_OF[groups["mon"].rstrip(".")] if "mon" in groups else int(groups["m"])
        year = int(groups["y"]) if groups.get("y") else None
    return _resolve(day, month, year, mail_day)


def _year(text: str) -> int:
    digits = int(text.lstrip("'"))
    return digits + 2000 if digits < 100 else digits


def _resolve(day: int, month: int, year: int | None, mail_day: date) -> date | None:
    """The date, with the year the mail's day makes sensible when none is written."""
    if year is not None:
        try:
            return date(year, month, day)
        except ValueError:
            return None
    candidates = []
    for offset in (-1, 0, 1):
        try:
            candidates.append(date(mail_day.year + offset, month, day))
        except ValueError:
            continue  # 29 February of a year without one
    if not candidates:
        return None
    for candidate in candidates:
        if mail_day <= candidate <= mail_day + MAX_AHEAD_WITHOUT_YEAR:
            return candidate
    # Stale text, or a date too far off to believe: the nearest one, judged by the caller.
    return min(candidates, key=lambda c: abs((c - mail_day).days))
