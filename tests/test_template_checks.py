"""Static checks of templates for lint, each problem at its line and column."""

from __future__ import annotations

from seqctl.template_checks import TemplateProblem, check_expression, check_template


def rules(problems: list[TemplateProblem]) -> list[tuple[int, int, str]]:
    return [(problem.line, problem.column, problem.rule) for problem in problems]


# --- check_template -------------------------------------------------------------------------------


def test_clean_template_has_no_problems() -> None:
    source = (
        "Hi {{ contact.first_name | default('there') }},\n"
        "{% for order in contact.orders %}{{ loop.index }}: {{ order.total }}{% endfor %}\n"
        "{{ sender.name }} {{ now.year }} {{ step.id }} {{ enrollment.vars.plan }}\n"
    )
    assert check_template(source) == []


def test_unsafe_attribute_reported_with_line_and_column() -> None:
    problems = check_template("Hello,\nHi {{ contact.__class__ }}")
    assert rules(problems) == [(2, 15, "template-unsafe")]
    assert problems[0].message == "unsafe template construct: access to '__class__' is not allowed"


def test_unsafe_constructs() -> None:
    source = "{{ ''.__class__.__mro__ }} {{ contact['_x'] }} {{ range(10) }} {{ range(200000) }}"
    assert rules(check_template(source)) == [
        (1, 7, "template-unsafe"),
        (1, 17, "template-unsafe"),
        (1, 39, "template-unsafe"),
        (1, 67, "template-unsafe"),
    ]


def test_syntax_error_reported_at_its_line() -> None:
    source = "Hi {{ contact.first_name }},\n\nYour {{ contact.plan }\nBye"
    assert rules(check_template(source)) == [(3, 1, "template-syntax")]


def test_unknown_filter_reported_with_suggestion() -> None:
    source = "Hi\n{% if contact.x %}{{ contact.first_name | titel }}{% endif %}"
    problems = check_template(source)
    assert rules(problems) == [(2, 43, "template-syntax")]
    assert problems[0].message == "unknown filter 'titel' (did you mean 'title'?)"


def test_unknown_root_reported_at_first_use_with_did_you_mean() -> None:
    problems = check_template("Hi\n{{ contcat.first_name }} {{ contcat.last_name }}\n{{ foo }}")
    assert rules(problems) == [(2, 4, "template-variable"), (3, 4, "template-variable")]
    assert problems[0].message == "unknown variable 'contcat' (did you mean 'contact'?)"
    assert problems[1].message == "unknown variable 'foo'"
    assert check_template("{{ custom.x }}", extra_roots=["custom"]) == []


def test_include_is_rejected() -> None:
    problems = check_template("Hi\n{% include 'footer.j2' %}")
    assert rules(problems) == [(2, 4, "template-unsafe")]
    assert problems[0].message == (
        "include/extends/import are not supported; put the text in the step or its template file"
    )


def test_check_expression() -> None:
    assert check_expression("contact.status == 'Interested' and contact.score > 5") == []
    assert rules(check_expression("contact.status ==")) == [(1, 1, "template-syntax")]
    problems = check_expression("contcat.status == 'x'")
    assert problems[0].message == "unknown variable 'contcat' (did you mean 'contact'?)"
    assert rules(check_expression("contact.__class__")) == [(1, 9, "template-unsafe")]


def test_a_macro_is_a_known_name() -> None:
    source = "{% macro row(o) %}[{{ o }}]{{ row }}{% endmacro %}{{ row(contact.name) }}"
    assert check_template(source) == []


def test_templates_nested_too_deeply_are_a_finding_not_a_crash() -> None:
    deep = "(" * 3000 + "1" + ")" * 3000
    assert rules(check_template("{{ " + deep + " }}")) == [(1, 1, "template-syntax")]
    assert rules(check_expression(deep)) == [(1, 1, "template-syntax")]
    assert "nested too deeply" in check_expression(deep)[0].message
