"""What a message from the mailbox is: a reply, an automatic reply, a bounce, an unsubscribe.

Checked in this order, each with the reason recorded on the event:
1. a delivery status notification (multipart/report; report-type=delivery-status): a hard
   bounce for a 5.x.x status, a soft one for 4.x.x; a report of a delivery that worked is
   ignored. A bounce from an older server without that format (from MAILER-DAEMON or postmaster,
   with a bounce's subject) is read from the status code in its text.
2. a read receipt (report-type=disposition-notification): ignored.
3. mail to the List-Unsubscribe mailto address: an unsubscribe.
4. mailing-list mail (List-Id, List-Unsubscribe, Precedence: list): ignored, it is nobody's
   answer (a newsletter from a contact's company is no reply).
5. an automatic reply (Auto-Submitted other than "no", X-Autoreply, X-Autorespond, Precedence
   auto_reply, bulk or junk, or an automatic-reply subject in one of the usual languages):
   out of office, with the return date its text states.
6. anything else: a reply written by a person.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from urllib.parse import parse_qs, unquote, urlsplit

from seqctl.engine.inbox.dates import find_return_date
from seqctl.engine.inbox.mail import Mail


class Kind(Enum):
    """What a message is, in the event types of `seqctl event` (ignored: no event)."""

    REPLY = "reply"
    OUT_OF_OFFICE = "out_of_office"
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Verdict:
    """A message's kind and why; the details each kind needs."""

    kind: Kind
    reason: str
    return_date: date | None = None  # out of office
    bounce: str | None = None  # hard | soft
    recipient: str | None = None  # the bounced address
    contact: str | None = None  # an unsubscribe's contact key, when its address names one


@dataclass(frozen=True)
class UnsubscribeAddress:
    """A `mailto:` List-Unsubscribe URL of a channel; `{contact}` may sit in it."""

    address: re.Pattern[str]
    subject: re.Pattern[str] | None
    shown: str

    @classmethod
    def from_url(cls, url: str) -> UnsubscribeAddress | None:
        """None for an http(s) URL: those unsubscribe through a web page, not the mailbox."""
        if not url.lower().startswith("mailto:"):
            return None
        parts = urlsplit(url)
        subject = parse_qs(parts.query).get("subject", [None])[0]
        return cls(
            _template(unquote(parts.path)),
            _template(subject) if subject and "{" in subject else None,
            unquote(parts.path),
        )

    def contact_in(self, mail: Mail) -> tuple[bool, str | None]:
        """(the mail is to this address, the contact key the address or subject names)."""
        for recipient in mail.recipients:
            found = self.address.fullmatch(recipient)
            if found is not None:
                key = found.groupdict().get("contact")
                if key is None and self.subject is not None:
                    named = self.subject.fullmatch(mail.subject.strip())
                    key = named.group("contact") if named is not None else None
                return True, key
        return False, None


def _template(text: str) -> re.Pattern[str]:
    """A pattern of a template text where `{contact}` (or `{key}`) is any key."""
    pattern = re.escape(text.lower() if "@" in text else text)
    for name in (re.escape("{contact}"), re.escape("{key}")):
        pattern = pattern.replace(name, "(?P<contact>[^\\s@]+?)", 1)
    return re.compile(pattern, re.IGNORECASE)


_AUTO_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply")
_AUTO_PRECEDENCE = ("auto_reply", "bulk", "junk")
# Subjects that mean an automatic reply wherever they appear (accents and case folded) ...
_AUTO_SUBJECT = re.compile(
    r"out of (?:the )?office|out-of-office|automatic reply|auto[- ]?reply|auto[- ]?response"
    r"|autoresponder|abwesenheit|automatische antwort|ausser haus|nicht im buro"
    r"|resposta automatica|fora do escritorio|ausente do escritorio|respuesta automatica"
    r"|fuera de la oficina|fuera de oficina|reponse automatique|absent du bureau"
    r"|absente du bureau|risposta automatica|fuori sede|fuori ufficio|automatisch antwoord"
)
# ... and words that do only at the start ("Vacation: ...", not "Re: your vacation plans").
_AUTO_SUBJECT_START = re.compile(
    r"^(?:auto|autoreply|absence|absent|ausente|abwesend|urlaub|vacation|on vacation|on leave"
    r"|away|afwezig|ferie|ferias|vacaciones|conge|conges)\b"
)
_BOUNCE_SENDERS = ("mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon")
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|delivery failure|delivery has failed"
    r"|failure notice|mail delivery failed|returned mail|returned to sender|could not be delivered"
    r"|unzustellbar|nicht zugestellt|nao entregue|nao foi possivel entregar|no se pudo entregar"
    r"|no entregado|non remis|impossible de remettre|mail delivery subsystem"
)
_STATUS_CODE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_PERMANENT = re.compile(
    r"user unknown|unknown user|no such user|does not exist|doesn'?t exist|address rejected"
    r"|mailbox unavailable|recipient not found|no mailbox|invalid recipient|account disabled"
    r"|mailbox not found|unrouteable|unroutable|no such recipient",
    re.IGNORECASE,
)


def classify(mail: Mail, unsubscribe: Sequence[UnsubscribeAddress] = ()) -> Verdict:
    """The message's kind and the reason for it."""
    # Only a report's parts are read for delivery statuses: most mail is never parsed past
    # its headers.
    if mail.report_type == "delivery-status" or (mail.report_type is not None and mail.statuses):
        return _delivery_report(mail)
    if mail.report_type == "disposition-notification":
        return Verdict(Kind.IGNORED, "a read receipt (disposition notification)")
    bounce = _plain_bounce(mail)
    if bounce is not None:
        return bounce
    for address in unsubscribe:
        addressed, key = address.contact_in(mail)
        if addressed:
            return Verdict(
                Kind.UNSUBSCRIBE,
                f"sent to the List-Unsubscribe address {address.shown}",
                contact=key,
            )
    if (
        mail.header("list-id")
        or mail.header("list-unsubscribe")
        or mail.header("precedence").strip().lower() == "list"
    ):
        return Verdict(
            Kind.IGNORED, "mailing-list mail (List-Id, List-Unsubscribe or Precedence: list)"
        )
    automatic = _automatic(mail)
    if automatic is not None:
        return _out_of_office(mail, automatic)
    return Verdict(Kind.REPLY, "written by a person (no automatic-reply header or subject)")


def _delivery_report(mail: Mail) -> Verdict:
    """Hard for a permanent failure of any recipient, soft for a temporary one."""
    failed = [s for s in mail.statuses if (s.status or "").startswith("5") or s.action == "failed"]
    delayed = [
        s for s in mail.statuses if (s.status or "").startswith("4") or s.action == "delayed"
    ]
    if failed:
        worst, kind = failed[0], "hard"
    elif delayed:
        worst, kind = delayed[0], "soft"
    elif mail.statuses:
        actions = ", ".join(sorted({s.action or "unknown" for s in mail.statuses}))
        return Verdict(Kind.IGNORED, f"a delivery report that is no failure ({actions})")
    else:
        return _text_bounce(mail, "a delivery status notification without recipient blocks")
    status = worst.status or ("5.0.0" if kind == "hard" else "4.0.0")
    what = f"delivery status notification: {status} {worst.action or ''}".rstrip()
    if worst.recipient:
        what += f" for {worst.recipient}"
    if worst.diagnostic:
        what += f" ({_short(worst.diagnostic)})"
    return Verdict(Kind.BOUNCE, what, bounce=kind, recipient=worst.recipient)


def _plain_bounce(mail: Mail) -> Verdict | None:
    """A bounce in no standard format: from the mailer daemon, with a bounce's subject."""
    if mail.sender is not None and mail.sender.partition("@")[0] not in _BOUNCE_SENDERS:
        return None
    if not _BOUNCE_SUBJECT.search(fold(mail.subject)):
        return None
    return _text_bounce(mail, "a bounce in no standard format")


def _text_bounce(mail: Mail, what: str) -> Verdict:
    code = _STATUS_CODE.search(mail.text)
    if code is not None:
        kind = "hard" if code.group(1) == "5" else "soft"
        return Verdict(Kind.BOUNCE, f"{what}: status {code.group(0)} in its text", bounce=kind)
    if _PERMANENT.search(mail.text):
        phrase = _PERMANENT.search(mail.text)
        assert phrase is not None
        return Verdict(Kind.BOUNCE, f"{what}: '{phrase.group(0)}' in its text", bounce="hard")
    return Verdict(Kind.BOUNCE, f"{what}: no status code, taken as temporary", bounce="soft")


def _automatic(mail: Mail) -> str | None:
    """Why the message is an automatic reply, or None when a person wrote it."""
    submitted = mail.header("auto-submitted").strip().lower()
    if submitted and not submitted.startswith("no"):
        return f"Auto-Submitted: {submitted}"
    for name in _AUTO_HEADERS:
        value = mail.header(name).strip()
        if name in mail.headers and value.lower() not in ("no", "false", "0"):
            return f"{_title(name)}: {value}" if value else _title(name)
    for name in ("precedence", "x-precedence"):
        value = mail.header(name).strip().lower()
        if value in _AUTO_PRECEDENCE:
            return f"{_title(name)}: {value}"
    subject = re.sub(
        r"^(?:\s*(?:re|aw|fw|fwd|wg|res|rv|tr|sv|antw)\s*:)+\s*", "", fold(mail.subject)
    )
    if _AUTO_SUBJECT.search(subject) or _AUTO_SUBJECT_START.search(subject):
        return f"subject '{_short(mail.subject)}'"
    return None


def _out_of_office(mail: Mail, why: str) -> Verdict:
    reason = f"automatic reply ({why})"
    written = (mail.date or datetime.now(UTC)).date()
    stated = find_return_date(f"{mail.subject}\n{mail.text}", written)
    if stated is None:
        return Verdict(Kind.OUT_OF_OFFICE, f"{reason}; no return date stated")
    if stated.day is None:
        return Verdict(
            Kind.OUT_OF_OFFICE, f"{reason}; '{stated.phrase}' not used: {stated.problem}"
        )
    return Verdict(
        Kind.OUT_OF_OFFICE,
        f"{reason}; return date {stated.day.isoformat()} from '{_short(stated.phrase)}'",
        return_date=stated.day,
    )


def fold(text: str) -> str:
    """Lower case without accents, for matching subjects in any language."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _title(name: str) -> str:
    return "-".join(word.capitalize() for word in name.split("-"))


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
