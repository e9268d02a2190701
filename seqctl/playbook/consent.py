"""Lint rules that make `consent` mean something: who gave it, and when.

Consent for automatic sending (`consent: {by, at}` with `approval: auto`, `auto_approve` or
`compose: {mode: full}`) is a promise a person made: it must name someone who owns or sends the
sequence (its `owner` or its `sender.email`), and a real date that has already come. The rule
`consent` in rules.py says when a consent block is needed at all; these check the block itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from seqctl.playbook.findings import Finding
from seqctl.playbook.rules import Context, Rule

# No place on Earth is further ahead of UTC than 14 hours (Kiribati): a consent dated on a day
# that has begun anywhere is not in the future for the person who wrote it.
_FURTHEST_AHEAD = timedelta(hours=14)


def responsible_people(data: dict[str, object]) -> list[str]:
    """Who owns or sends the sequence, as the playbook names them: owner, sender.email."""
    people = []
    owner = data.get("owner")
    if isinstance(owner, str) and owner.strip():
        people.append(owner.strip())
    sender = data.get("sender")
    email = sender.get("email") if isinstance(sender, dict) else None
    if isinstance(email, str) and email.strip():
        people.append(email.strip())
    return list(dict.fromkeys(people))


def consent_person(ctx: Context) -> Iterator[Finding]:
    """consent.by must be the owner or the sender: consent from a stranger authorises nothing."""
    consent = ctx.data.get("consent")
    if not isinstance(consent, dict) or not isinstance(consent.get("by"), str):
        return
    by = consent["by"].strip()
    people = responsible_people(ctx.data)
    if any(by.casefold() == person.casefold() for person in people):
        return
    if not people:
        message = (
            f"consent is given by '{by}', but the playbook names no owner or sender: add "
            f"`owner: {by}` (or a sender) so that consent comes from who is responsible"
        )
    else:
        named = " or ".join(f"'{p}'" for p in people)
        message = (
            f"consent is given by '{by}', who neither owns nor sends this sequence: "
            f"it must come from {named}"
        )
    yield ctx.document.finding(("consent", "by"), "consent-by", message)


def consent_date(ctx: Context) -> Iterator[Finding]:
    """consent.at must be a real calendar date, and not later than the lint run's today."""
    consent = ctx.data.get("consent")
    if not isinstance(consent, dict) or not isinstance(consent.get("at"), str):
        return
    text = consent["at"]
    try:
        given = date.fromisoformat(text)
    except ValueError:
        yield ctx.document.finding(
            ("consent", "at"), "consent-date", f"consent date '{text}' is not a real date"
        )
        return
    today = latest_today(ctx.now)
    if given > today:
        yield ctx.document.finding(
            ("consent", "at"),
            "consent-date",
            f"consent date {text} is in the future (today is {today.isoformat()}): consent "
            "is on record only once it was given",
        )


def latest_today(now: datetime | None) -> date:
    """The newest date anywhere on Earth at `now` (the real clock when None)."""
    moment = now if now is not None else datetime.now(UTC)
    return (moment.astimezone(UTC) + _FURTHEST_AHEAD).date()


CONSENT_RULES: tuple[Rule, ...] = (consent_person, consent_date)
