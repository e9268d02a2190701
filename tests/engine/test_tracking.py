"""Open pixels and signed click links in a message's HTML."""

from __future__ import annotations

from seqctl.engine.messages.tracking import (
    instrument,
    instrument_text,
    links,
    read_token,
    text_links,
    token,
)

SECRET = b"tracking secret"
BASE = "https://t.acme.test/"
HTML = """<html><body>
<p>Hi, see <a class="cta" href="https://acme.test/pricing?plan=pro&amp;ref=mail">pricing</a>
and <a href='http://acme.test/docs'>the docs</a>.</p>
<p><a href="mailto:ana@acme.test">write to Ana</a> <a href="tel:+15550100">call</a>
<a href="#top">top</a> <a href="https://acme.test/unsubscribe?c=ann">unsubscribe</a></p>
<!-- <a href="https://acme.test/commented-out">old</a> -->
<a
   data-href="https://not-this.test" HREF=https://acme.test/bare>bare</a>
</body></html>"""


def test_links_are_the_http_links_in_order_with_entities_decoded() -> None:
    assert links(HTML) == [
        "https://acme.test/pricing?plan=pro&ref=mail",
        "http://acme.test/docs",
        "https://acme.test/bare",
    ]


def test_instrument_adds_a_pixel_and_numbers_the_links() -> None:
    signed = token(7, SECRET)
    out = instrument(HTML, message_id=7, base_url=BASE, secret=SECRET)
    pixel = f'<img src="https://t.acme.test/t/o/{signed}.gif" width="1" height="1" alt="">'
    assert out.endswith(pixel + "</body></html>")
    assert links(out) == [f"https://t.acme.test/t/c/{signed}?n={n}" for n in range(3)]
    for untouched in (
        'href="mailto:ana@acme.test"',
        'href="tel:+15550100"',
        'href="#top"',
        'href="https://acme.test/unsubscribe?c=ann"',
        '<a href="https://acme.test/commented-out">',
        'data-href="https://not-this.test"',
        'class="cta"',
    ):
        assert untouched in out
    assert "pricing?plan" not in out and "acme.test/docs" not in out
    assert out == instrument(HTML, message_id=7, base_url=BASE, secret=SECRET)  # deterministic


def test_without_a_body_tag_the_pixel_goes_at_the_end() -> None:
    out = instrument("<p>Hello</p>", message_id=1, base_url="http://h", secret=SECRET)
    assert out == f'<p>Hello</p><img src="http://h/t/o/{token(1, SECRET)}.gif" width="1"' + (
        ' height="1" alt="">'
    )


def test_a_token_names_its_message_only_with_the_right_secret() -> None:
    signed = token(12345, SECRET)
    assert read_token(signed, SECRET) == 12345
    assert read_token(signed, b"another secret") is None
    forged = token(12346, b"guessed")
    assert read_token(forged, SECRET) is None
    flipped = signed[:-1] + ("A" if signed[-1] != "A" else "B")
    assert read_token(flipped, SECRET) is None
    assert read_token(signed[:-2], SECRET) is None
    assert read_token("!" + signed[1:], SECRET) is None
    assert read_token("", SECRET) is None
    assert read_token("é" * 32, SECRET) is None


def test_plain_text_links_are_numbered_the_same_way() -> None:
    body = "Pricing: https://acme.test/p. Docs (http://acme.test/d), https://acme.test/unsubscribe"
    assert text_links(body) == ["https://acme.test/p", "http://acme.test/d"]
    signed = token(3, SECRET)
    assert instrument_text(body, message_id=3, base_url="http://h/", secret=SECRET) == (
        f"Pricing: http://h/t/c/{signed}?n=0. Docs (http://h/t/c/{signed}?n=1),"
        " https://acme.test/unsubscribe"
    )
