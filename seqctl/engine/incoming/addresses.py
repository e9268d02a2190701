"""Addresses as the suppression list compares them: pure functions, no database.

- an email address is trimmed and lowercased. Gmail-style dots and `+tags` are NOT folded:
  `ana.b+news@gmail.com` and `anab@gmail.com` are different entries (most domains treat them as
  different mailboxes, and folding would suppress strangers on those domains);
- a domain (`@acme.test`) stands for every address at it;
- a phone number is normalised to E.164 (`+` and digits): a number written with `+` or `00` as
  is; one without a country code with the contact's `country` field (an ISO code such as BR);
  without one, it is kept as its digits (then only the same digits match: write numbers with
  their country code to be sure);
- a text message that is a STOP word alone is an opt-out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from email.utils import parseaddr
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    DOMAIN = "domain"
    CONTACT = "contact"  # a contact key: entries from before opt-outs followed the address


# A text message that is one of these words (any case, accents and end punctuation ignored)
# is an opt-out, as carriers and WhatsApp treat it: English, Portuguese and Spanish.
STOP_WORDS = frozenset(
    {
        "stop", "stopall", "stop all", "unsubscribe", "cancel", "end", "quit", "optout",
        "opt out", "opt-out", "revoke",
        "parar", "pare", "sair", "cancelar", "descadastrar",
        "baja", "alto",
    }
)  # fmt: skip
PHONE_CHANNELS = frozenset({"sms", "whatsapp", "telegram"})
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-/]{4,}[0-9]")


def normal_email(value: str) -> str:
    """An address as compared: the address of `Name <addr>`, trimmed, lowercased."""
    address = parseaddr(value)[1] or value
    return address.strip().lower()


def normal_phone(value: str, country: str | None = None) -> str:
    """A phone number in E.164 (`+5511987654321`) when its country is known, else its digits."""
    text = value.strip()
    digits = "".join(c for c in text if c.isdigit())
    if not digits:
        return text
    if text.startswith("+"):
        return "+" + digits
    if text.startswith("00") and len(digits) > 2:
        return "+" + digits[2:]
    if country and len(country.strip()) == 2:
        import phonenumbers  # only for numbers written without their country code

        try:
            parsed = phonenumbers.parse(text, country.strip().upper())
        except phonenumbers.NumberParseException:
            return digits
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return digits


def is_stop(text: str) -> bool:
    """True when a text message is an opt-out word alone (`STOP`, `Parar.`, `opt-out`)."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).casefold()
    folded = " ".join(folded.strip(" \t\r\n.!?¡¿\"'*").split())
    return folded in STOP_WORDS


def stop_text(data: Mapping[str, Any]) -> str | None:
    """The text of an inbound message (`text`, `body` or `message`) when it is a STOP word."""
    text = next((data[k] for k in ("text", "body", "message") if k in data), None)
    return text.strip() if isinstance(text, str) and is_stop(text) else None


def classify(raw: str) -> tuple[str, Kind] | None:
    """A value given by a person: (normalised, kind), or None when it is not an address."""
    value = raw.strip()
    if value.startswith("@") and "." in value:
        return value.lower(), Kind.DOMAIN
    if "@" in value:
        return normal_email(value), Kind.EMAIL
    if _PHONE.fullmatch(value):
        return normal_phone(value), Kind.PHONE
    return None


def address_values(channel: str, to: str | None, country: str | None = None) -> list[str]:
    """The list entries that would stop a message on this channel to this address."""
    if not to:
        return []
    if channel in PHONE_CHANNELS:
        return [normal_phone(to, country)]
    if channel == "email":
        email = normal_email(to)
        return [email, "@" + email.rpartition("@")[2]] if "@" in email else [email]
    return []  # a webhook step posts to a URL, not to the contact


def country_of(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("country")
    return str(value) if isinstance(value, str) and value.strip() else None
