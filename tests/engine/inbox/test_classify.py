"""What a message from the mailbox is, and why: mail in, kind and reason out."""

from __future__ import annotations

from datetime import date

import pytest

from seqctl.engine.inbox.classify import Kind, UnsubscribeAddress, Verdict, classify
from seqctl.engine.inbox.mail import Mail, Skip, parse_mail
from seqctl.engine.inbox.text import html_text, new_text
from tests.engine.inbox import mails

SENT = mails.Sent("<7.1.hello.0123456789abcdef@acme.test>", "bob@example.com", "Hi", "7:1:hello")
BOB = "Bob Stone <bob@example.com>"
DATE = "Tue, 24 Nov 2026 09:15:00 +0000"


def parsed(raw: bytes) -> Mail:
    mail = parse_mail(raw)
    assert isinstance(mail, Mail)
    return mail


def verdict(raw: bytes, *unsubscribe: UnsubscribeAddress) -> Verdict:
    return classify(parsed(raw), unsubscribe)


def reply_kw(body: str = "Sounds good, let's talk Thursday.") -> dict[str, str]:
    return {"sender": BOB, "body": body, "date": DATE, "mid": "r1"}


@pytest.mark.parametrize(
    "raw",
    [
        mails.gmail_reply(SENT, **reply_kw()),
        mails.outlook_reply(SENT, **reply_kw()),
        mails.apple_mail_reply(SENT, **reply_kw()),
        mails.thunderbird_reply(SENT, **reply_kw()),
        mails.forwarded_reply(SENT, **reply_kw()),
        mails.html_only_reply(
            sender=BOB, subject="Your offer", body="Yes please", date=DATE, mid="h1"
        ),  # fmt: skip
    ],
    ids=["gmail", "outlook", "apple-mail", "thunderbird", "forwarded", "html-only"],
)
def test_replies_from_the_common_clients_are_replies(raw: bytes) -> None:
    result = verdict(raw)

    assert result.kind is Kind.REPLY
    assert result.reason == "written by a person (no automatic-reply header or subject)"


@pytest.mark.parametrize(
    ("client", "raw"),
    [
        ("gmail", mails.gmail_reply(SENT, **reply_kw())),
        ("outlook", mails.outlook_reply(SENT, **reply_kw())),
        ("apple", mails.apple_mail_reply(SENT, **reply_kw())),
        ("thunderbird", mails.thunderbird_reply(SENT, **reply_kw())),
    ],
)
def test_a_reply_names_the_message_it_answers_and_its_new_text_has_no_quote(
    client: str, raw: bytes
) -> None:
    mail = parsed(raw)

    assert mail.in_reply_to == ("7.1.hello.0123456789abcdef@acme.test",)
    assert mail.sender == "bob@example.com"
    assert mail.text == "Sounds good, let's talk Thursday."


def test_a_forwarded_thread_names_the_sent_message_in_its_references() -> None:
    mail = parsed(mails.forwarded_reply(SENT, **reply_kw()))

    assert mail.references[0] == "7.1.hello.0123456789abcdef@acme.test"
    assert mail.in_reply_to == ("fwd-r1@example.com",)


def _auto(subject: str, body: str, headers: str = "Auto-Submitted: auto-replied\n") -> bytes:
    return mails.auto_reply(
        sender=BOB, subject=subject, body=body, date=DATE, mid="a1", headers=headers
    )


@pytest.mark.parametrize(
    ("raw", "why", "back"),
    [
        (
            _auto("Out of office", "I'm out of the office and back on 7 December."),
            "automatic reply (Auto-Submitted: auto-replied); return date 2026-12-07"
            " from 'back on 7 December'",
            "2026-12-07",
        ),
        (
            mails.outlook_out_of_office(SENT, **reply_kw("I will return on Monday, December 7.")),
            "automatic reply (Auto-Submitted: auto-generated); return date 2026-12-07"
            " from 'return on Monday, December 7'",
            "2026-12-07",
        ),
        (
            _auto(
                "Abwesenheitsnotiz: Hi",
                "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 04.12. nicht im"
                " Büro und ab dem 7. Dezember wieder erreichbar.",
                headers="X-Autoreply: yes\n",
            ),
            "automatic reply (X-Autoreply: yes); return date 2026-12-07 from 'ab dem 7. Dezember'",
            "2026-12-07",
        ),
        (
            _auto(
                "Resposta automática: Hi",
                "Olá! Estou de férias e estarei de volta em 07/12. Obrigado.",
                headers="X-Autorespond: yes\n",
            ),
            "automatic reply (X-Autorespond: yes); return date 2026-12-07 from 'volta em 07/12'",
            "2026-12-07",
        ),
        (
            _auto(
                "Respuesta automática: Hi",
                "Estoy fuera de la oficina hasta el 4 de diciembre.",
                headers="Precedence: auto_reply\n",
            ),
            "automatic reply (Precedence: auto_reply); return date 2026-12-05"
            " from 'hasta el 4 de diciembre'",
            "2026-12-05",
        ),
        (
            _auto("Réponse automatique : Hi", "Je serai de retour le lundi 7 décembre.", ""),
            "automatic reply (subject 'Réponse automatique : Hi'); return date 2026-12-07"
            " from 'retour le lundi 7 décembre'",
            "2026-12-07",
        ),
        (
            _auto("Out of Office: Hi", "I'm travelling with limited access to email.", ""),
            "automatic reply (subject 'Out of Office: Hi'); no return date stated",
            None,
        ),
        (
            _auto("Re: Hi", "Thanks, your mail has been received.", "Precedence: junk\n"),
            "automatic reply (Precedence: junk); no return date stated",
            None,
        ),
        (
            _auto("Vacation", "Back on 2 January.", ""),  # written on 24 Nov: next January
            "automatic reply (subject 'Vacation'); return date 2027-01-02 from 'Back on 2 January'",
            "2027-01-02",
        ),
    ],
    ids=["en", "outlook-html", "de", "pt", "es", "fr-subject", "no-date", "junk", "next-year"],
)
def test_automatic_replies_are_out_of_office_with_the_return_date(
    raw: bytes, why: str, back: str | None
) -> None:
    result = verdict(raw)

    assert result.kind is Kind.OUT_OF_OFFICE
    assert result.reason == why
    assert result.return_date == (date.fromisoformat(back) if back else None)


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Hi",
        "Automatische Antwort: Hi",
        "Resposta automática: Hi",
        "Respuesta automática: Hi",
        "Fuera de la oficina",
        "Fora do escritório",
        "Abwesend",
        "[Auto-Reply] Re: Hi",
        "AW: Abwesenheitsnotiz",
    ],
)
def test_automatic_reply_subjects_without_headers(subject: str) -> None:
    assert verdict(_auto(subject, "Thank you.", "")).kind is Kind.OUT_OF_OFFICE


@pytest.mark.parametrize(
    "subject",
    ["Re: Hi", "Re: your vacation plans", "Re: automatic renewal", "Out of curiosity"],
)
def test_subjects_of_people_are_not_automatic(subject: str) -> None:
    assert verdict(_auto(subject, "Thank you.", "")).kind is Kind.REPLY


def test_auto_submitted_no_is_a_person() -> None:
    assert verdict(_auto("Re: Hi", "Sure.", "Auto-Submitted: no\n")).kind is Kind.REPLY


@pytest.mark.parametrize(
    ("raw", "kind", "why"),
    [
        (
            mails.postfix_bounce(SENT, date=DATE),
            "hard",
            "delivery status notification: 5.1.1 failed for bob@example.com (smtp; 550 5.1.1"
            " <bob@example.com>: Recipient address rejected: User unknown in …)",
        ),
        (
            mails.postfix_bounce(SENT, date=DATE, status="4.2.2", action="delayed"),
            "soft",
            "delivery status notification: 4.2.2 delayed for bob@example.com (smtp; 452 4.2.2"
            " <bob@example.com>: Mailbox full)",
        ),
        (
            mails.exim_bounce(SENT, date=DATE),
            "hard",
            "delivery status notification: 5.0.0 failed for bob@example.com (smtp; 550 No such"
            " user here)",
        ),
        (
            mails.office365_bounce(SENT, date=DATE),
            "hard",
            "delivery status notification: 5.4.1 failed for bob@example.com (smtp;550 5.4.1"
            " Recipient address rejected: Access denied. AS(201806281) [BN8NAM…)",
        ),
        (
            mails.gmail_bounce(SENT, date=DATE),
            "hard",
            "delivery status notification: 5.1.1 failed for bob@example.com (smtp; 550-5.1.1"
            " The email account that you tried to reach does not exist.)",
        ),
    ],
    ids=["postfix", "postfix-delayed", "exim", "office365", "gmail"],
)
def test_bounces_of_common_servers(raw: bytes, kind: str, why: str) -> None:
    result = verdict(raw)

    assert result.kind is Kind.BOUNCE
    assert (result.bounce, result.recipient, result.reason) == (kind, "bob@example.com", why)


@pytest.mark.parametrize(
    ("raw", "message_id", "key"),
    [
        (mails.postfix_bounce(SENT, date=DATE), SENT.message_id, SENT.key),
        (mails.exim_bounce(SENT, date=DATE), SENT.message_id, None),  # headers only, no key
        (mails.office365_bounce(SENT, date=DATE), SENT.message_id, SENT.key),
        (mails.gmail_bounce(SENT, date=DATE), SENT.message_id, SENT.key),
    ],
    ids=["postfix", "exim", "office365", "gmail"],
)
def test_a_bounce_carries_the_returned_message_s_headers(
    raw: bytes, message_id: str, key: str | None
) -> None:
    original = parsed(raw).original

    assert original.message_id == message_id.strip("<>")
    assert original.idempotency_key == key


def test_a_bounce_in_no_standard_format_is_read_from_its_text() -> None:
    raw = mails.auto_reply(
        sender="MAILER-DAEMON@old.example.com",
        subject="failure notice",
        body="Sorry, I wasn't able to deliver your message to bob@example.com.\n"
        "550 5.1.1 mailbox unavailable",
        date=DATE,
        mid="q1",
        headers="",
    )
    result = verdict(raw)

    assert (result.kind, result.bounce) == (Kind.BOUNCE, "hard")
    assert result.reason == "a bounce in no standard format: status 5.1.1 in its text"


def test_a_delivery_report_of_success_is_ignored() -> None:
    raw = mails.postfix_bounce(SENT, date=DATE, status="2.0.0", action="delivered")

    assert verdict(raw) == Verdict(Kind.IGNORED, "a delivery report that is no failure (delivered)")


def test_a_read_receipt_is_ignored() -> None:
    raw = (
        mails.postfix_bounce(SENT, date=DATE)
        .replace(b"report-type=delivery-status", b"report-type=disposition-notification")
        .replace(b"message/delivery-status", b"message/disposition-notification")
    )

    assert verdict(raw).kind is Kind.IGNORED


LIST_MAIL = "mailing-list mail (List-Id, List-Unsubscribe or Precedence: list)"


def test_mailing_list_mail_is_ignored() -> None:
    raw = mails.newsletter(sender=BOB, date=DATE, mid="n1")

    assert verdict(raw) == Verdict(Kind.IGNORED, LIST_MAIL)


def test_bulk_mail_with_an_unsubscribe_link_is_no_automatic_reply() -> None:
    raw = mails.auto_reply(
        sender=BOB, subject="Our spring offers", body="Up to 20% off.", date=DATE, mid="m1",
        headers="Precedence: bulk\nList-Unsubscribe: <https://example.com/u?x=1>",
    )  # fmt: skip

    assert verdict(raw) == Verdict(Kind.IGNORED, LIST_MAIL)


@pytest.mark.parametrize(
    ("url", "to", "contact"),
    [
        ("mailto:unsubscribe+{contact}@acme.test", "unsubscribe+bob@acme.test", "bob"),
        ("mailto:unsubscribe@acme.test?subject=unsubscribe", "unsubscribe@acme.test", None),
        ("mailto:leave@acme.test?subject=leave%20{contact}", "leave@acme.test", None),
    ],
)
def test_mail_to_the_list_unsubscribe_address_is_an_unsubscribe(
    url: str, to: str, contact: str | None
) -> None:
    address = UnsubscribeAddress.from_url(url)
    assert address is not None
    raw = mails.unsubscribe_request(sender=BOB, to=to, date=DATE, mid="u1")

    result = verdict(raw, address)

    assert (result.kind, result.contact) == (Kind.UNSUBSCRIBE, contact)
    assert result.reason.startswith("sent to the List-Unsubscribe address ")


def test_an_unsubscribe_subject_can_name_the_contact() -> None:
    address = UnsubscribeAddress.from_url("mailto:leave@acme.test?subject=leave%20{contact}")
    assert address is not None
    raw = mails.unsubscribe_request(sender=BOB, to="leave@acme.test", date=DATE, mid="u2")

    result = verdict(raw.replace(b"Subject: unsubscribe", b"Subject: leave c-42"), address)

    assert result.contact == "c-42"


def test_an_http_unsubscribe_url_is_no_mailbox_address() -> None:
    assert UnsubscribeAddress.from_url("https://acme.test/u/{contact}") is None


# ----------------------------------------------------------------------------- junk


def test_a_message_with_no_headers_is_skipped() -> None:
    assert parse_mail(mails.no_headers()) == Skip("no headers: not a mail message")


def test_an_empty_message_is_skipped() -> None:
    assert parse_mail(b"\r\n\r\n") == Skip("empty message")


def test_headers_of_no_mail_are_skipped() -> None:
    result = parse_mail(b"X-Whatever: 1\r\n\r\nbody\r\n")

    assert result == Skip("none of From, To, Subject, Date or Message-ID: not a mail message")


def test_broken_mime_is_still_read() -> None:
    mail = parsed(mails.broken_mime(sender=BOB, date=DATE, mid="b1", in_reply_to=SENT.message_id))

    assert mail.in_reply_to == (SENT.message_id.strip("<>"),)
    assert classify(mail).kind is Kind.REPLY


def test_unknown_charsets_are_read_as_well_as_they_can_be() -> None:
    mail = parsed(mails.unknown_charset(sender=BOB, date=DATE, mid="c1"))

    assert mail.sender == "bob@example.com"
    assert "Réponse avec des accents été." in mail.text
    assert mail.subject  # something, whatever the unknown charset held
    assert classify(mail).kind is Kind.REPLY


def test_a_message_cut_short_is_still_read() -> None:
    raw = mails.huge(sender=BOB, date=DATE, mid="g1", megabytes=1)[:4096]

    mail = parse_mail(raw, truncated=True)

    assert isinstance(mail, Mail) and mail.truncated
    assert mail.text == "Attached."


# ----------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Yes!\n\nOn Mon, 23 Nov 2026 at 15:00, Ana <a@b> wrote:\n> Hello", "Yes!"),
        ("Ja!\n\nAm 23.11.2026 um 15:00 schrieb Ana Lima <a@b>:\n> Hallo", "Ja!"),
        ("Sim!\n\nEm seg., 23 de nov. de 2026 às 15:00, Ana <a@b> escreveu:\n> Olá", "Sim!"),
        ("¡Sí!\n\nEl lun, 23 nov 2026 a las 15:00, Ana (<a@b>) escribió:\n> Hola", "¡Sí!"),
        ("Oui!\n\nLe 23/11/2026 à 15:00, Ana a écrit :\n> Bonjour", "Oui!"),
        ("OK\n\n-----Original Message-----\nFrom: Ana\n", "OK"),
        ("Fine\n\nFrom: Ana Lima <a@b>\nSent: Monday\nTo: Bob", "Fine"),
        ("> quoted first\nthen mine", "then mine"),
    ],
)
def test_the_new_text_of_a_reply(text: str, new: str) -> None:
    assert new_text(text) == new


def test_html_text_leaves_out_quotes_scripts_and_styles() -> None:
    html = (
        "<html><head><style>p{color:red}</style></head><body><p>Yes,&nbsp;let's meet.</p>"
        "<script>alert(1)</script><div class='gmail_quote'>On Mon Ana wrote:<blockquote>Hi"
        "</blockquote></div><p>Bob</p></body></html>"
    )

    assert html_text(html) == "Yes, let's meet.\nBob"
