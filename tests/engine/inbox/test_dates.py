"""The return date of an out-of-office reply, from the words people write: text in, day out."""

from __future__ import annotations

from datetime import date

import pytest

from seqctl.engine.inbox.dates import find_return_date

# The mail's day: Friday 20 November 2026 unless a case says otherwise.
WRITTEN = date(2026, 11, 20)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        # English
        ("I'm out of the office and back on 7 December.", "2026-12-07"),
        ("I'll be back December 7th.", "2026-12-07"),
        ("I will return on Monday, December 7, 2026.", "2026-12-07"),
        ("Returning on Dec. 7 - for urgent matters call Bruno.", "2026-12-07"),
        ("I am away until 4 December with limited access to email.", "2026-12-05"),
        ("Out of office through Friday, December 4th.", "2026-12-05"),
        ("I'll be back in the office on 2026-12-07.", "2026-12-07"),
        ("back on 12/7", "2026-12-07"),  # month first in English, as in the US
        ("back on 13/12", "2026-12-13"),  # unless the first number is no month
        ("I'm back on Monday.", "2026-11-23"),
        ("Away today, back tomorrow.", "2026-11-21"),
        ("Out until 4 December, back on 7 December.", "2026-12-07"),  # the stated return wins
        # German
        ("Ich bin zurück am 07.12.", "2026-12-07"),
        ("Ich bin ab dem 7. Dezember wieder im Büro.", "2026-12-07"),
        ("Ab 07.12.2026 bin ich wieder für Sie da.", "2026-12-07"),
        ("Ich bin wieder ab dem 7. Dezember erreichbar.", "2026-12-07"),
        ("Ich bin bis einschließlich 04.12. nicht im Büro.", "2026-12-05"),
        ("Bis zum 4. Dezember bin ich im Urlaub; ab dem 7. Dezember wieder da.", "2026-12-07"),
        # Portuguese
        ("Estarei de volta em 07/12.", "2026-12-07"),
        ("Retorno previsto para 7 de dezembro.", "2026-12-07"),
        ("Estou de férias até 04/12/2026.", "2026-12-05"),
        ("Volto no dia 7 de dezembro de 2026.", "2026-12-07"),
        # Spanish
        ("Regreso el 7 de diciembre.", "2026-12-07"),
        ("Estaré de vuelta el lunes 7 de diciembre.", "2026-12-07"),
        ("Estoy fuera de la oficina hasta el 4 de diciembre.", "2026-12-05"),
        # French, Italian, Dutch
        ("Je serai de retour le lundi 7 décembre.", "2026-12-07"),
        ("Absent jusqu'au 4 décembre inclus.", "2026-12-05"),
        ("Rientro il 7 dicembre.", "2026-12-07"),
        ("Ik ben terug op 7 december.", "2026-12-07"),
    ],
)
def test_the_return_date_people_write(text: str, back: str) -> None:
    stated = find_return_date(text, WRITTEN)

    assert stated is not None and stated.problem is None
    assert stated.day == date.fromisoformat(back)


@pytest.mark.parametrize(
    ("text", "written", "back"),
    [
        # Written in December about January: next year.
        ("Back on 12 January.", date(2026, 12, 20), "2027-01-12"),
        ("Zurück am 12.01.", date(2026, 12, 20), "2027-01-12"),
        ("De volta em 12/01.", date(2026, 12, 20), "2027-01-12"),
        ("Regreso el 12 de enero.", date(2026, 12, 20), "2027-01-12"),
        # Written in January about January: this year.
        ("I'll be back January 12th.", date(2027, 1, 5), "2027-01-12"),
        # Written in July about January: next year (within ten months).
        ("Back on 12 January.", date(2026, 7, 1), "2027-01-12"),
        # A two-digit year.
        ("Zurück am 12.1.27", date(2026, 12, 20), "2027-01-12"),
        # The return day itself (the responder still on in the morning).
        ("Back on 20 November.", date(2026, 11, 20), "2026-11-20"),
    ],
)
def test_the_year_is_the_one_the_mail_makes_sensible(text: str, written: date, back: str) -> None:
    stated = find_return_date(text, written)

    assert stated is not None and stated.day == date.fromisoformat(back)


@pytest.mark.parametrize(
    ("text", "written", "problem"),
    [
        # An autoresponder left on since the holidays.
        ("Back on 28 December.", date(2027, 1, 5), "2026-12-28 is before the mail was sent"),
        ("Back on 2025-03-01.", date(2026, 11, 20), "2025-03-01 is before the mail was sent"),
        ("Back on 2028-03-01.", date(2026, 11, 20), "2028-03-01 is more than a year ahead"),
    ],
)
def test_a_date_that_cannot_be_the_return_is_reported_not_used(
    text: str, written: date, problem: str
) -> None:
    stated = find_return_date(text, written)

    assert stated is not None
    assert (stated.day, stated.problem) == (None, problem)


@pytest.mark.parametrize(
    "text",
    [
        "I'm out of the office with limited access to email.",
        "I am out of the office until further notice.",
        "Ich bin bis auf Weiteres nicht erreichbar.",
        "I will get back to you soon. Call 12/3 for the desk.",  # another sentence
        "Back at 14.30 today.",  # a time, not a date
        "Back on 31 February.",  # no such day
        "Thanks for your email, I will reply as soon as I can.",
    ],
)
def test_no_return_date_when_none_is_stated(text: str) -> None:
    stated = find_return_date(text, WRITTEN)

    assert stated is None or stated.day is None


def test_the_phrase_is_kept_as_written() -> None:
    stated = find_return_date("Ich bin zurück am\n  Montag, den 7. Dezember.", WRITTEN)

    assert stated is not None and stated.phrase == "zurück am Montag, den 7. Dezember"
