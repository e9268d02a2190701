"""Header values composed from data, and the policy that refuses to write a broken header."""

from __future__ import annotations

import base64
from email import message_from_string, policy
from email.message import EmailMessage
from urllib.parse import unquote_to_bytes

import pytest

from seqctl.channels import mime


def decoded(name: str, value: str) -> str:
    """A header's value as a mail program reads it."""
    message = message_from_string(f"{name}: {value}\n\n", policy=policy.default)
    return str(message[name])


def test_plain_words_stay_readable_and_others_are_encoded() -> None:
    assert mime.unstructured("Subject", "Hello there") == "Hello there"
    value = mime.unstructured("Subject", "Olá Ana, tudo bem?")
    assert value.startswith("=?utf-8?q?Ol=C3=A1?= Ana,")  # only the word that needs it
    assert decoded("Subject", value) == "Olá Ana, tudo bem?"


def test_text_that_looks_like_an_encoded_word_is_encoded_so_it_reads_literally() -> None:
    text = "=?utf-8?q?Bob=0D=0ABcc:_x@evil.test?= hi"
    value = mime.unstructured("Subject", text)

    assert "=?utf-8?q?Bob" not in value
    assert value.isascii() and "\n" not in value.replace("\n ", "")
    assert decoded("Subject", value) == text


def test_long_subjects_are_folded_at_spaces_within_78_characters() -> None:
    text = " ".join(f"word{n}" for n in range(200))
    value = mime.unstructured("Subject", text)
    lines = f"Subject: {value}".split("\n")

    assert len(lines) > 10
    assert all(len(line) <= mime.MAX_LINE for line in lines)
    assert all(line.startswith(" ") for line in lines[1:])
    assert decoded("Subject", value) == text


def test_a_word_longer_than_a_line_is_cut_into_encoded_words() -> None:
    text = "x" * 500
    value = mime.unstructured("Subject", text)

    assert all(len(line) <= mime.MAX_LINE for line in f"Subject: {value}".split("\n"))
    assert decoded("Subject", value) == text


def test_encoded_words_end_after_a_space_where_they_can() -> None:
    name = "Общество с ограниченной ответственностью Ромашка"
    words = mime.mailbox("From", name, "a@acme.test").split()[:-1]

    assert len(words) > 1
    assert all(len(w) <= 75 for w in words)
    # Each but the last ends in an encoded space: no word of the name is cut in two.
    texts = [base64.b64decode(w.split("?")[3]).decode() for w in words]
    assert "".join(texts) == name
    assert all(t.endswith(" ") for t in texts[:-1])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ana Lima", "Ana Lima <ana@acme.test>"),
        ("Lima, Ana", '"Lima, Ana" <ana@acme.test>'),
        ('Ana "the" \\ Lima', '"Ana \\"the\\" \\\\ Lima" <ana@acme.test>'),
        ("", "ana@acme.test"),
        ("\r\n", "ana@acme.test"),
        ("Zoë", "=?utf-8?q?Zo=C3=AB?= <ana@acme.test>"),
    ],
)
def test_mailboxes(name: str, expected: str) -> None:
    assert mime.mailbox("From", name, "ana@acme.test") == expected


def test_a_mailbox_needs_a_checked_address() -> None:
    with pytest.raises(mime.UnsafeHeader, match="From"):
        mime.mailbox("From", "Ana", "ana@acme.test>\r\nBcc: x@evil.test")


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("report.pdf", 'attachment;\n filename="report.pdf"'),
        ("Q3 report.pdf", 'attachment;\n filename="Q3 report.pdf"'),
        ("relatório.pdf", "attachment;\n filename*=utf-8''relat%C3%B3rio.pdf"),
        ('a"b.pdf', "attachment;\n filename*=utf-8''a%22b.pdf"),
        ("a\r\nX-Evil: 1.pdf", 'attachment;\n filename="a X-Evil: 1.pdf"'),
        ("", "attachment"),
    ],
)
def test_attachment_names(filename: str, expected: str) -> None:
    assert mime.attachment(filename) == expected


def test_a_long_attachment_name_continues_over_lines_without_cutting_a_character() -> None:
    name = "é" * 40 + "日本語" * 10 + ".pdf"
    value = mime.attachment(name)
    lines = value.split("\n")

    assert lines[1].startswith(" filename*0*=utf-8''%C3%A9")
    assert all(len(line) <= mime.MAX_LINE for line in lines)
    segments = [line.split("=", 1)[1].rstrip(";").removeprefix("utf-8''") for line in lines[1:]]
    assert "".join(unquote_to_bytes(s).decode("utf-8") for s in segments) == name
    message = message_from_string(f"Content-Disposition: {value}\n\n", policy=policy.default)
    assert message["Content-Disposition"].params["filename"] == name


@pytest.mark.parametrize(
    "raw",
    [
        "a\nBcc: x@evil.test",  # a line that starts a header
        "a\rb",  # a lone carriage return
        "a\n\nbody",  # an empty line: the end of the headers
        "a\n \nb",  # a line of nothing but white space
        "café",  # not ASCII
        "x" * 1000,  # longer than a line may be
    ],
)
def test_the_policy_refuses_to_write_a_header_that_is_not_one_header(raw: str) -> None:
    message = EmailMessage(policy=mime.POLICY)
    message.set_raw("X-Test", raw)
    message.set_content("body")

    with pytest.raises(mime.UnsafeHeader, match="X-Test"):
        message.as_bytes()
    with pytest.raises(mime.UnsafeHeader, match="X-Test"):
        message.as_string()


def test_the_policy_writes_composed_values_as_they_are() -> None:
    message = EmailMessage(policy=mime.POLICY)
    value = mime.unstructured("Subject", " ".join(["Olá"] * 40))
    message.set_raw("Subject", value)
    message.set_content("body")

    assert f"Subject: {value}".replace("\n", "\r\n").encode() in message.as_bytes()
