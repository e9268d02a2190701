from __future__ import annotations

from datetime import UTC, datetime

import pytest

from seqctl.errors import InputError, SeqctlError
from seqctl.render import (
    KNOWN_ROOTS,
    MissingVariable,
    RenderError,
    compile_template,
    evaluate,
    render,
    template_context,
)

WELCOME = "Welcome, {{ contact.first_name }}!\n\nAna from {{ sender.name }}\n"


def context(**contact: object) -> dict[str, object]:
    return template_context(
        contact,
        sender={"name": "Ana", "email": "ana@acme.test"},
        now=datetime(2026, 11, 23, 12, tzinfo=UTC),
    )


# --- rendering ------------------------------------------------------------------------------------


def test_welcome_email_greets_the_contact_by_first_name() -> None:
    assert render(WELCOME, context(first_name="Maria")) == "Welcome, Maria!\n\nAna from Ana\n"


def test_missing_first_name_fails_with_its_name_and_never_renders() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("Subject\n\nHi {{ contact.first_name }},", context(email="m@x.test"))
    assert caught.value.name == "contact.first_name"
    assert caught.value.line == 3
    assert isinstance(caught.value, SeqctlError)


@pytest.mark.parametrize("first_name", [None, ""])
def test_none_or_empty_first_name_counts_as_missing(first_name: str | None) -> None:
    with pytest.raises(MissingVariable, match="contact.first_name"):
        render("Hi {{ contact.first_name }},", context(first_name=first_name))


@pytest.mark.parametrize("contact", [{}, {"first_name": None}, {"first_name": ""}])
def test_default_covers_missing_none_and_empty(contact: dict[str, object]) -> None:
    source = "Hi {{ contact.first_name | default('there') }}, {{ contact.first_name | d('you') }}"
    assert render(source, context(**contact)) == "Hi there, you"


def test_default_keeps_a_real_value() -> None:
    source = "Hi {{ contact.first_name | default('there') }}"
    assert render(source, context(first_name="Maria")) == "Hi Maria"


def test_nested_attributes_render_and_name_what_is_missing() -> None:
    variables = context(company={"name": "Acme", "city": ""})
    assert render("{{ contact.company.name }}", variables) == "Acme"
    with pytest.raises(MissingVariable) as caught:
        render("{{ contact.company.city }}", variables)
    assert caught.value.name == "contact.company.city"
    with pytest.raises(MissingVariable) as caught:
        render("{{ contact.owner.name }}", variables)
    assert caught.value.name == "contact.owner.name"


def test_unknown_root_is_a_missing_variable() -> None:
    with pytest.raises(MissingVariable) as caught:
        render("{{ foo }}", context())
    assert caught.value.name == "foo"


def test_target_alias_is_the_same_contact() -> None:
    variables = template_context({"first_name": "Maria"}, target="lead")
    assert render("{{ lead.first_name }} / {{ contact.first_name }}", variables) == "Maria / Maria"
    with pytest.raises(MissingVariable) as caught:
        render("{{ lead.phone }}", variables)
    assert caught.value.name == "lead.phone"


def test_if_on_a_missing_attribute_is_false_without_error() -> None:
    source = "{% if contact.phone %}Call {{ contact.phone }}{% else %}Reply by email{% endif %}"
    assert render(source, context()) == "Reply by email"
    assert render(source, context(phone="")) == "Reply by email"
    assert render(source, context(phone="+55 11 5555")) == "Call +55 11 5555"


def test_list_items_are_named_by_index() -> None:
    variables = context(orders=[{"total": 10}, {"total": None}])
    with pytest.raises(MissingVariable) as caught:
        render("{% for o in contact.orders %}{{ o.total }} {% endfor %}", variables)
    assert caught.value.name == "contact.orders[1].total"


def test_csv_column_with_a_space_by_subscript() -> None:
    variables = context(**{"first name": "Maria", "plan": ""})
    assert render("Hi {{ contact['first name'] }}", variables) == "Hi Maria"
    assert render("{{ contact.get('plan', 'basic') }}", variables) == "basic"
    with pytest.raises(MissingVariable) as caught:
        render("{{ contact['plan'] }}", variables)
    assert caught.value.name == "contact.plan"


def test_syntax_error_at_render_is_a_render_error_with_its_line() -> None:
    with pytest.raises(RenderError) as caught:
        render("Hi\n{{ contact.first_name }", context(first_name="Maria"))
    assert caught.value.line == 2


def test_unknown_target_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown target 'leads'"):
        template_context({}, target="leads")


def test_sandbox_blocks_dunder_access_at_render_time() -> None:
    with pytest.raises(RenderError, match="access to '__class__' is not allowed"):
        render("{{ contact.__class__ }}", context(first_name="Maria"))
    with pytest.raises(RenderError):
        render("{{ contact.__class__ | default('x') }}", context())


def test_runtime_error_is_a_render_error_with_its_line() -> None:
    with pytest.raises(RenderError, match="division by zero") as caught:
        render("one\n{{ 1 / 0 }}", context())
    assert caught.value.line == 2


def test_html_escapes_variables_but_not_the_template_text() -> None:
    source = "<p>Hi {{ contact.first_name }}</p>"
    variables = context(first_name="<script>alert(1)</script>")
    assert render(source, variables, html=True) == (
        "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    assert render(source, variables) == "<p>Hi <script>alert(1)</script></p>"


def test_compile_cache_returns_the_same_template() -> None:
    source = "Hi {{ contact.first_name }}"
    assert compile_template(source) is compile_template(source)
    assert compile_template(source) is compile_template(source, html=False)
    assert compile_template(source, html=True) is not compile_template(source)
    assert render(compile_template(source), context(first_name="Maria")) == "Hi Maria"


def test_known_roots() -> None:
    assert {"contact", "lead", "deal", "sender", "step", "enrollment", "now"} <= KNOWN_ROOTS


# --- evaluate -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [("Interested", True), ("Lost", False), (None, False), ("", False)],
)
def test_evaluate_condition_on_status(status: str | None, expected: bool) -> None:
    contact = {} if status is None else {"status": status}
    assert bool(evaluate("contact.status == 'Interested'", context(**contact))) is expected


def test_evaluate_missing_attribute_is_falsy() -> None:
    assert not evaluate("contact.score > 50", context())
    assert not evaluate("contact.score + 1 > 50", context())
    assert evaluate("contact.score > 50", context(score=80)) is True


def test_evaluate_blocks_unsafe_access() -> None:
    with pytest.raises(RenderError, match="__class__"):
        evaluate("contact.__class__", context())
