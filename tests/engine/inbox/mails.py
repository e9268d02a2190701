# ruff: noqa: E501 - real mail has long lines (HTML parts, folded headers are not folded here)
"""Real-looking mail, as it arrives in a sender's mailbox: replies from the common clients,
automatic replies in several languages, bounces in the formats of common mail servers, and junk.

Each builder returns the raw bytes (CRLF line ends) with the headers those programs write. The
sent message they answer is given by its Message-ID (and for bounces its idempotency key); the
dates are of the tests' week (Monday 23 November 2026).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

ANA = "Ana Lima <ana@acme.test>"


@dataclass(frozen=True)
class Sent:
    """What a reply or a bounce refers to: a message seqctl sent."""

    message_id: str  # with its angle brackets
    to: str
    subject: str = "Hi"
    key: str = "1:1:hello"


def _crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def gmail_reply(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """Gmail: multipart/alternative, the quote under 'On ... wrote:', References and In-Reply-To."""
    quoted = "\n".join(f"> {line}" for line in ("Hello there,", "", "Ana"))
    return _crlf(f"""
Delivered-To: ana@acme.test
Received: by 2002:a05:6a10:9e0a:b0:4c1:2f6a:1b5e with SMTP id d10csp123456pxb;
        {date}
MIME-Version: 1.0
References: {sent.message_id}
In-Reply-To: {sent.message_id}
From: {sender}
Date: {date}
Message-ID: <{mid}@mail.gmail.com>
Subject: Re: {sent.subject}
To: {ANA}
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f60718"

--000000000000a1b2c3d4e5f60718
Content-Type: text/plain; charset="UTF-8"

{body}

On Mon, Nov 23, 2026 at 3:00 PM Ana Lima <ana@acme.test> wrote:

{quoted}

--000000000000a1b2c3d4e5f60718
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">{body}</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 23, 2026 at 3:00 PM Ana Lima &lt;<a href="mailto:ana@acme.test">ana@acme.test</a>&gt; wrote:<br></div><blockquote class="gmail_quote">Hello there,<br>Ana</blockquote></div>

--000000000000a1b2c3d4e5f60718--
""")


def outlook_reply(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """Outlook: top-posted, the original under a line and a From:/Sent: block, Thread-Index."""
    return _crlf(f"""
From: {sender}
To: {ANA}
Subject: RE: {sent.subject}
Thread-Topic: {sent.subject}
Thread-Index: AQHa3Vx1n2bQy0u8Tk2gJ1c5n9lS3Q==
Date: {date}
Message-ID: <{mid}@DM6PR11MB4321.namprd11.prod.outlook.com>
References: {sent.message_id}
In-Reply-To: {sent.message_id}
Accept-Language: en-US
Content-Language: en-US
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
Content-Type: multipart/alternative;
\tboundary="_000_DM6PR11MB4321_"
MIME-Version: 1.0

--_000_DM6PR11MB4321_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

{body}

________________________________
From: Ana Lima <ana@acme.test>
Sent: Monday, November 23, 2026 3:00 PM
To: {sent.to}
Subject: {sent.subject}

Hello there,
Ana

--_000_DM6PR11MB4321_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><div>{body}</div><hr><div id=3D"divRplyFwdMsg"><b>From:</b> Ana Lima</div><div>Hello there</div></body></html>

--_000_DM6PR11MB4321_--
""")


def apple_mail_reply(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """Apple Mail: quoted-printable text, the quote after 'On ..., at ..., ... wrote:'."""
    return _crlf(f"""
Content-Type: text/plain;
\tcharset=utf-8
Content-Transfer-Encoding: quoted-printable
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))
Subject: Re: {sent.subject}
From: {sender}
In-Reply-To: {sent.message_id}
Date: {date}
Cc: ana@acme.test
Content-Transfer-Encoding: quoted-printable
Message-Id: <{mid}@icloud.com>
References: {sent.message_id}
To: Ana Lima <ana@acme.test>
X-Mailer: Apple Mail (2.3774.600.62)

{body}

> On 23 Nov 2026, at 15:00, Ana Lima <ana@acme.test> wrote:
>=20
> Hello there,
> Ana
""")


def thunderbird_reply(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """Thunderbird: format=flowed, In-Reply-To and References, 'On 23/11/2026 15:00, ...'."""
    return _crlf(f"""
Message-ID: <{mid}@example.com>
Date: {date}
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Subject: Re: {sent.subject}
Content-Language: en-GB
To: Ana Lima <ana@acme.test>
References: {sent.message_id}
From: {sender}
In-Reply-To: {sent.message_id}
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 8bit

{body}

On 23/11/2026 15:00, Ana Lima wrote:
> Hello there,
> Ana
""")


def html_only_reply(*, sender: str, subject: str, body: str, date: str, mid: str) -> bytes:
    """A web mail that sends HTML only and no In-Reply-To: found by the sender's address."""
    return _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: {subject}
Date: {date}
Message-ID: <{mid}@webmail.example.net>
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64

{base64.encodebytes(f"<html><body><p>{body}</p></body></html>".encode()).decode()}""")


def forwarded_reply(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """A colleague answers the mail the contact forwarded: References name it, the sender is new."""
    return _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: Re: Fwd: {sent.subject}
Date: {date}
Message-ID: <{mid}@example.com>
In-Reply-To: <fwd-{mid}@example.com>
References: {sent.message_id} <fwd-{mid}@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

{body}

---------- Forwarded message ---------
From: Ana Lima <ana@acme.test>
Date: Mon, Nov 23, 2026 at 3:00 PM
Subject: {sent.subject}
To: <{sent.to}>

Hello there,
Ana
""")


def auto_reply(
    *,
    sender: str,
    subject: str,
    body: str,
    date: str,
    mid: str,
    headers: str = "Auto-Submitted: auto-replied\n",
    in_reply_to: str | None = None,
    charset: str = "utf-8",
) -> bytes:
    """An automatic reply with the headers its server adds (Auto-Submitted, X-Autoreply, ...)."""
    reply = f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n" if in_reply_to else ""
    extra = headers.strip() + "\n" if headers.strip() else ""
    return _crlf(f"""
From: {sender}
To: {ANA}
Subject: {subject}
Date: {date}
Message-ID: <{mid}@mail.example.com>
{reply}{extra}MIME-Version: 1.0
Content-Type: text/plain; charset="{charset}"
Content-Transfer-Encoding: 8bit

{body}
""")


def outlook_out_of_office(sent: Sent, *, sender: str, body: str, date: str, mid: str) -> bytes:
    """Exchange/Office 365 OOF: 'Automatic reply:', Auto-Submitted: auto-generated, HTML."""
    html = f"<html><body><p>{body}</p></body></html>"
    return _crlf(f"""
From: {sender}
To: {ANA}
Subject: Automatic reply: {sent.subject}
Thread-Topic: {sent.subject}
Date: {date}
Message-ID: <{mid}@BN8PR04MB6300.namprd04.prod.outlook.com>
In-Reply-To: {sent.message_id}
References: {sent.message_id}
Auto-Submitted: auto-generated
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {sent.to}
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: base64
MIME-Version: 1.0

{base64.encodebytes(html.encode()).decode()}""")


def _original_headers(sent: Sent) -> str:
    return f"""\
Return-Path: <ana@acme.test>
From: Ana Lima <ana@acme.test>
To: {sent.to}
Subject: {sent.subject}
Date: Mon, 23 Nov 2026 15:00:00 +0000
Message-ID: {sent.message_id}
X-Seqctl-Idempotency-Key: {sent.key}
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
"""


def postfix_bounce(
    sent: Sent, *, date: str, status: str = "5.1.1", action: str = "failed"
) -> bytes:
    """Postfix: 'Undelivered Mail Returned to Sender', the whole original as message/rfc822."""
    diagnostic = (
        f"smtp; 550 {status} <{sent.to}>: Recipient address rejected: User unknown in virtual"
        " mailbox table"
        if status.startswith("5")
        else f"smtp; 452 {status} <{sent.to}>: Mailbox full"
    )
    subject = (
        "Undelivered Mail Returned to Sender"
        if action == "failed"
        else "Delayed Mail (still being retried)"
    )
    return _crlf(f"""
Return-Path: <>
Delivered-To: ana@acme.test
Date: {date}
From: MAILER-DAEMON@mx1.acme.test (Mail Delivery System)
Subject: {subject}
To: ana@acme.test
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="4Bx2Yc0k3Zz5mx1.acme.test/4Bx2Yc0k3Zz5"
Content-Transfer-Encoding: 8bit
Message-Id: <20261123150102.4Bx2Yc0k3Zz5@mx1.acme.test>

This is a MIME-encapsulated message.

--4Bx2Yc0k3Zz5mx1.acme.test/4Bx2Yc0k3Zz5
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx1.acme.test.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<{sent.to}>: host mx.example.com[203.0.113.5] said: 550 {status}
    <{sent.to}>: Recipient address rejected: User unknown

--4Bx2Yc0k3Zz5mx1.acme.test/4Bx2Yc0k3Zz5
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.acme.test
X-Postfix-Queue-ID: 4Bx2Yc0k3Zz5
X-Postfix-Sender: rfc822; ana@acme.test
Arrival-Date: Mon, 23 Nov 2026 15:00:01 +0000 (UTC)

Final-Recipient: rfc822; {sent.to}
Original-Recipient: rfc822;{sent.to}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example.com
Diagnostic-Code: {diagnostic}

--4Bx2Yc0k3Zz5mx1.acme.test/4Bx2Yc0k3Zz5
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

{_original_headers(sent)}
Hello there,
Ana

--4Bx2Yc0k3Zz5mx1.acme.test/4Bx2Yc0k3Zz5--
""")


def exim_bounce(sent: Sent, *, date: str) -> bytes:
    """Exim: 'Mail delivery failed', the original's headers only (text/rfc822-headers)."""
    return _crlf(f"""
Return-path: <>
Envelope-to: ana@acme.test
Delivery-date: {date}
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mail.acme.test>
To: ana@acme.test
References: {sent.message_id}
Content-Type: multipart/report; report-type=delivery-status; boundary=1732374061-eximdsn-1681692777
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1t2abc-0001xY-Pq@mail.acme.test>
Date: {date}

--1732374061-eximdsn-1681692777
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {sent.to}
    host mx.example.org [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<{sent.to}>:
    550 No such user here

--1732374061-eximdsn-1681692777
Content-type: message/delivery-status

Reporting-MTA: dns; mail.acme.test

Action: failed
Final-Recipient: rfc822;{sent.to}
Status: 5.0.0
Remote-MTA: dns; mx.example.org
Diagnostic-Code: smtp; 550 No such user here

--1732374061-eximdsn-1681692777
Content-type: text/rfc822-headers

{_original_headers(sent).replace("X-Seqctl-Idempotency-Key: " + sent.key + chr(10), "")}
--1732374061-eximdsn-1681692777--
""")


def office365_bounce(sent: Sent, *, date: str) -> bytes:
    """Exchange Online NDR: 'Undeliverable:', an HTML notice, the original attached."""
    return _crlf(f"""
From: Microsoft Outlook <postmaster@acme.onmicrosoft.com>
To: <ana@acme.test>
Date: {date}
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="e5b6a2b0-4b1f-4a0b-9c59-2f0f3d1e6c7a"
X-MS-Exchange-Message-Is-Ndr:
Content-Language: en-US
Message-ID: <4c2f9b2e-0d8e-4a7e-b3b4-0a1f7b1c2d3e@BN8NAM11HT123.mail.protection.outlook.com>
In-Reply-To: {sent.message_id}
References: {sent.message_id}
Subject: Undeliverable: {sent.subject}
Auto-Submitted: auto-replied
MIME-Version: 1.0

--e5b6a2b0-4b1f-4a0b-9c59-2f0f3d1e6c7a
Content-Type: multipart/alternative; differences=Content-Type;
\tboundary="2b8c6b57-5d55-4c3b-8d8a-6f2d0e6a4b11"

--2b8c6b57-5d55-4c3b-8d8a-6f2d0e6a4b11
Content-Type: text/html; charset="us-ascii"

<html><body><b>Your message to {sent.to} couldn't be delivered.</b><p>The email address
couldn't be found.</p><p>Remote server returned '550 5.4.1 Recipient address rejected: Access
denied.'</p></body></html>

--2b8c6b57-5d55-4c3b-8d8a-6f2d0e6a4b11--

--e5b6a2b0-4b1f-4a0b-9c59-2f0f3d1e6c7a
Content-Type: message/delivery-status

Reporting-MTA: dns;BN8NAM11HT123.mail.protection.outlook.com
Received-From-MTA: dns;mx1.acme.test
Arrival-Date: Mon, 23 Nov 2026 15:00:03 +0000

Final-Recipient: rfc822;{sent.to}
Action: failed
Status: 5.4.1
Diagnostic-Code: smtp;550 5.4.1 Recipient address rejected: Access denied.
 AS(201806281) [BN8NAM11FT045.eop-nam11.prod.protection.outlook.com]

--e5b6a2b0-4b1f-4a0b-9c59-2f0f3d1e6c7a
Content-Type: message/rfc822

{_original_headers(sent)}
Hello there,
Ana

--e5b6a2b0-4b1f-4a0b-9c59-2f0f3d1e6c7a--
""")


def gmail_bounce(sent: Sent, *, date: str) -> bytes:
    """Gmail: 'Delivery Status Notification (Failure)' from the Mail Delivery Subsystem."""
    return _crlf(f"""
Delivered-To: ana@acme.test
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: ana@acme.test
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
References: {sent.message_id}
In-Reply-To: {sent.message_id}
X-Failed-Recipients: {sent.to}
Message-ID: <66a1f2d3.050a0220.3b6c9.0c1aSMTPIN_ADDED_MISSING@mx.google.com>
Date: {date}
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000d5e4f30620e5b9a1"; report-type=delivery-status

--000000000000d5e4f30620e5b9a1
Content-Type: multipart/related; boundary="000000000000d5e4f40620e5b9a9"

--000000000000d5e4f40620e5b9a9
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {sent.to} because the address couldn't be found,
or is unable to receive mail.

--000000000000d5e4f40620e5b9a9--

--000000000000d5e4f30620e5b9a1
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; ana@acme.test
Arrival-Date: Mon, 23 Nov 2026 07:00:04 -0800 (PST)
X-Original-Message-ID: {sent.message_id}

Final-Recipient: rfc822; {sent.to}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (142.250.27.27, the server for the domain
 example.com.)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
Last-Attempt-Date: Mon, 23 Nov 2026 07:00:05 -0800 (PST)

--000000000000d5e4f30620e5b9a1
Content-Type: text/rfc822-headers

{_original_headers(sent)}
--000000000000d5e4f30620e5b9a1--
""")


def unsubscribe_request(*, sender: str, to: str, date: str, mid: str) -> bytes:
    """What a mail client sends for a List-Unsubscribe mailto: link."""
    return _crlf(f"""
From: {sender}
To: {to}
Subject: unsubscribe
Date: {date}
Message-ID: <{mid}@example.com>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This message was automatically generated by Mail to unsubscribe from the list.
""")


def newsletter(*, sender: str, date: str, mid: str) -> bytes:
    """Mailing-list mail from someone's address: nobody's answer."""
    return _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: Our November news
Date: {date}
Message-ID: <{mid}@lists.example.com>
List-Id: Example news <news.example.com>
List-Unsubscribe: <https://example.com/unsubscribe>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

This month: new offices, new people.
""")


def stranger(*, sender: str, date: str, mid: str, subject: str = "Question") -> bytes:
    """Mail from someone who is no contact."""
    return _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: {subject}
Date: {date}
Message-ID: <{mid}@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Do you sell gift cards?
""")


def broken_mime(*, sender: str, date: str, mid: str, in_reply_to: str = "") -> bytes:
    """A multipart whose boundary never closes, with a part of bad base64."""
    reply = f"In-Reply-To: {in_reply_to}\n" if in_reply_to else ""
    return _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: Re: Hi
Date: {date}
Message-ID: <{mid}@broken.example>
{reply}MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="never-closed"

--never-closed
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

!!!this is not base64 at all***
--never-closed
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAAA
""")


def unknown_charset(*, sender: str, date: str, mid: str) -> bytes:
    """Headers and a body in charsets nobody knows."""
    return (
        _crlf(f"""
From: =?x-klingon?Q?Qo=27noS?= <{sender.split("<")[-1].rstrip(">")}>
To: ana@acme.test
Subject: =?x-unknown-charset?B?w6l0w6kgw6AgbGEgcGxhZ2U=?=
Date: {date}
Message-ID: <{mid}@charset.example>
MIME-Version: 1.0
Content-Type: text/plain; charset="x-mac-klingon"
Content-Transfer-Encoding: 8bit

""")
        + "Réponse avec des accents \u00e9t\u00e9.\r\n".encode("latin-1")
        + b"\xff\xfe\x00 bytes that decode as nothing\r\n"
    )


def huge(*, sender: str, date: str, mid: str, megabytes: int = 30) -> bytes:
    """A message with a big attachment (30 MB by default)."""
    head = _crlf(f"""
From: {sender}
To: ana@acme.test
Subject: The files you asked for
Date: {date}
Message-ID: <{mid}@big.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="big-boundary"

--big-boundary
Content-Type: text/plain; charset=utf-8

Attached.

--big-boundary
Content-Type: application/zip; name="files.zip"
Content-Disposition: attachment; filename="files.zip"
Content-Transfer-Encoding: base64

""")
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
    body = line * (megabytes * 1024 * 1024 // len(line))
    return head + body + b"--big-boundary--\r\n"


def no_headers() -> bytes:
    """Bytes that are no mail at all."""
    return b"just some text that someone saved into the mailbox\r\nand a second line\r\n"
