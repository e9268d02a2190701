"""Tables line up on a terminal whatever the names are written in."""

from __future__ import annotations

from seqctl.cli.context import display_width, table
from tests.conftest import Launch
from tests.playbooks import INTRO

NOW = "--now=2026-11-23T09:00:00Z"


def test_wide_characters_take_two_columns() -> None:
    assert display_width("abc") == 3
    assert display_width("田中太郎") == 8
    assert display_width("ｶﾀｶﾅ") == 4  # half-width katakana: one column each
    assert display_width("José") == 4
    assert display_width("Jose\u0301") == 4  # a combining accent takes no column
    assert display_width("Ｆｕｌｌ") == 8  # full-width Latin


def test_columns_line_up_with_cjk_and_accented_names() -> None:
    shown = table(
        ["contact", "state"],
        [["田中太郎", "active"], ["maria", "waiting"], ["김민준", "paused"], ["Zoë", None]],
    )

    lines = shown.splitlines()
    # the second column starts at the same terminal column on every line
    starts = {display_width(line[: line.rindex("  ") + 2]) for line in lines}
    assert starts == {10}
    assert lines[-1].endswith("-")


def test_a_line_break_in_a_value_never_breaks_the_table() -> None:
    shown = table(["name", "n"], [["Ana\nBcc: x@evil.test", 1]])

    assert shown.splitlines() == ["NAME                  N", "Ana Bcc: x@evil.test  1"]


def test_long_listings_take_limit(launch: Launch) -> None:
    rows = "".join(f"c{i},c{i}@acme.test,田中{i}\n" for i in range(7))
    contacts = "key,email,first_name\n" + rows
    run = launch({"intro": INTRO}, contacts)
    keys = [f"--contact=c{i}" for i in range(7)]
    assert run(NOW, "enroll", "intro", *keys).exit_code == 0
    assert run(NOW, "tick").exit_code == 0

    listed = run("enrollments", "--limit", "3")
    as_json = run("enrollments", "--limit", "3", "--json").json
    messages = run("messages", "-n", "2", "--json").json
    everything = run("enrollments", "--json").json

    assert [e["contact"] for e in as_json] == ["c0", "c1", "c2"]
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 + 3 + 1  # the header, three rows, and a note that there is more
    assert lines[-1] == "showing the first 3 (--limit 3); there may be more"
    assert len(messages) == 2 and len(everything) == 7
    assert run("enrollments", "--limit", "0", "--json").json == everything
