"""`seqctl contacts import|show|list` as a user runs them: files, stdin, bad rows, exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Run, Write

NOW = "--now=2026-11-23T12:00:00Z"
LATER = "--now=2026-11-24T08:30:00Z"

LEADS = """
key,email,first_name,company,phone,timezone,status
maria,maria@casanova.test,Maria,Casa Nova,+5511987654321,America/Sao_Paulo,lead
info-harbor,info@harborfoods.test,,Harbor Foods,,Europe/London,
"""


def test_csv_import_keeps_extra_columns_as_attributes(run: Run, write: Write) -> None:
    write("leads.csv", LEADS)
    result = run(NOW, "contacts", "import", "leads.csv")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "imported 2 contacts (2 new, 0 updated)\n",
        "",
    )
    shown = run("contacts", "show", "maria", "--json")
    assert shown.json == {
        "key": "maria",
        "email": "maria@casanova.test",
        "phone": "+5511987654321",
        "timezone": "America/Sao_Paulo",
        "attributes": {"first_name": "Maria", "company": "Casa Nova", "status": "lead"},
        "created_at": "2026-11-23T12:00:00Z",
        "updated_at": "2026-11-23T12:00:00Z",
    }


def test_empty_cells_do_not_become_attributes(run: Run, write: Write) -> None:
    write("leads.csv", LEADS)
    run(NOW, "contacts", "import", "leads.csv")
    shown = run("contacts", "show", "info-harbor", "--json").json
    assert shown["attributes"] == {"company": "Harbor Foods"}
    assert shown["phone"] is None


def test_jsonl_keeps_nested_attributes_and_json_types(run: Run, write: Write) -> None:
    write(
        "leads.jsonl",
        '{"email": "Ana@Acme.test", "company": {"name": "Acme", "size": 40}, "vip": true}\n',
    )
    result = run(NOW, "contacts", "import", "leads.jsonl")
    assert result.exit_code == 0, result.stderr
    shown = run("contacts", "show", "ana@acme.test", "--json").json
    assert shown["email"] == "Ana@Acme.test"
    assert shown["attributes"] == {"company": {"name": "Acme", "size": 40}, "vip": True}


def test_standard_input_is_sniffed(run: Run) -> None:
    jsonl = run(NOW, "contacts", "import", "-", input='{"key": "k1", "plan": "pro"}\n')
    csv = run(NOW, "contacts", "import", "-", input="key,plan\nk2,free\n")
    assert [jsonl.stdout, csv.stdout] == ["imported 1 contact (1 new, 0 updated)\n"] * 2
    keys = [c["key"] for c in run("contacts", "list", "--json").json]
    assert keys == ["k1", "k2"]


def test_importing_again_updates_merges_attributes_and_keeps_created_at(
    run: Run, write: Write
) -> None:
    write("leads.csv", LEADS)
    run(NOW, "contacts", "import", "leads.csv")
    write("more.csv", "key,status,score\nmaria,customer,9\nnew-one,lead,\n")
    result = run(LATER, "contacts", "import", "more.csv")
    assert result.stdout == "imported 2 contacts (1 new, 1 updated)\n"
    shown = run("contacts", "show", "maria", "--json").json
    assert shown["attributes"] == {
        "first_name": "Maria",
        "company": "Casa Nova",
        "status": "customer",
        "score": "9",
    }
    assert shown["email"] == "maria@casanova.test"
    assert (shown["created_at"], shown["updated_at"]) == (
        "2026-11-23T12:00:00Z",
        "2026-11-24T08:30:00Z",
    )


BAD_CSV = """
key,email,timezone,plan
good-1,one@acme.test,Europe/Lisbon,pro
,,,free
bad-email,bob@,,
bad-zone,,Mars/Base,
too-many,,,pro,surplus
good-2,,,
"""


def test_bad_rows_are_reported_by_row_and_the_good_ones_go_in(run: Run, write: Write) -> None:
    write("contacts.csv", BAD_CSV)
    result = run(NOW, "contacts", "import", "contacts.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "contacts.csv:3: no key and no email",
        "contacts.csv:4: invalid email 'bob@'",
        "contacts.csv:5: unknown time zone 'Mars/Base'",
        "contacts.csv:6: 5 cells but the header has 4 columns (extra value 'surplus')",
    ]
    assert result.stdout == "imported 2 contacts (2 new, 0 updated); 4 rows refused\n"
    assert [c["key"] for c in run("contacts", "list", "--json").json] == ["good-1", "good-2"]


def test_json_report_shape(run: Run) -> None:
    result = run(
        NOW, "contacts", "import", "-", "--json", input='{"key": "a"}\n{"key": "b",\n\n[]\n'
    )
    assert result.exit_code == 1
    assert result.json == {
        "imported": 1,
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "refused": [
            {
                "row": 2,
                "reason": "invalid JSON: Expecting property name enclosed in double "
                "quotes (column 13)",
            },
            {"row": 4, "reason": "not a JSON object but an array"},
        ],
        "enrolled": {},
    }


def test_format_option_overrides_the_suffix(run: Run, write: Write) -> None:
    write("export.txt", '{"key": "k1"}\n')
    assert run(NOW, "contacts", "import", "export.txt", "--format", "jsonl").exit_code == 0
    assert run("contacts", "show", "k1", "--json").json["key"] == "k1"


def test_missing_file_exits_2_with_a_message(run: Run, project: Path) -> None:
    before = (project / "seqctl.db").read_bytes()
    result = run(NOW, "contacts", "import", "nope.csv")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "seqctl: nope.csv: no such file\n"
    assert (project / "seqctl.db").read_bytes() == before


def test_duplicate_columns_make_the_file_unusable(run: Run, write: Write) -> None:
    write("dup.csv", "email,name,name\na@acme.test,A,B\n")
    result = run(NOW, "contacts", "import", "dup.csv")
    assert result.exit_code == 2
    assert result.stderr == "seqctl: dup.csv:1: column 'name' appears twice (columns 2 and 3)\n"


def test_show_unknown_contact_is_not_found(run: Run) -> None:
    result = run("contacts", "show", "ghost")
    assert (result.exit_code, result.stderr) == (2, "seqctl: no contact 'ghost'\n")


def test_show_and_list_text(run: Run, write: Write) -> None:
    write("leads.csv", LEADS)
    run(NOW, "contacts", "import", "leads.csv")
    assert run("contacts", "show", "info-harbor").stdout.splitlines() == [
        "key:         info-harbor",
        "email:       info@harborfoods.test",
        "phone:       -",
        "timezone:    Europe/London",
        "created_at:  2026-11-23T12:00:00Z",
        "updated_at:  2026-11-23T12:00:00Z",
        "attributes:",
        "  company:  Harbor Foods",
    ]
    listed = run("contacts", "list", "--limit", "1").stdout.splitlines()
    assert listed == [
        "KEY          EMAIL                  PHONE  TIMEZONE       ATTRIBUTES",
        "info-harbor  info@harborfoods.test  -      Europe/London  company",
        "showing 1 of 2 contacts (--limit 0 shows all)",
    ]


def test_every_contacts_command_has_help_and_an_example(run: Run) -> None:
    for command, phrases in (
        ("import", ["--format <csv|jsonl> Read the file as csv or jsonl", "or - for standard"]),
        ("show", ["The contact's key."]),
        ("list", ["--limit <int range> Show at most this many contacts"]),
    ):
        text = " ".join(run("contacts", command, "--help").stdout.split())
        assert f"Example: seqctl contacts {command}" in text
        assert "--json Print machine-readable JSON." in text
        for phrase in phrases:
            assert phrase in text


def test_a_file_imported_again_says_what_changed(run: Run, write: Write) -> None:
    write("c.csv", "key,email,city\nana,ana@example.com,Lima\nbob,bob@example.com,Rome\n")
    assert (
        run(NOW, "contacts", "import", "c.csv").stdout == "imported 2 contacts (2 new, 0 updated)\n"
    )
    before = run("contacts", "show", "bob", "--json").json["updated_at"]

    write("c.csv", "key,email,city\nana,ana@example.com,Oslo\nbob,BOB@example.com,Rome\nbob,,\n")
    again = run("--now=2026-11-24T09:00:00Z", "contacts", "import", "c.csv")

    assert again.stdout == "imported 3 contacts (0 new, 2 updated, 1 unchanged)\n"
    assert run("contacts", "show", "ana", "--json").json["attributes"]["city"] == "Oslo"
    third = run("--now=2026-11-25T09:00:00Z", "contacts", "import", "c.csv")
    assert third.stdout == "imported 3 contacts (0 new, 0 updated, 3 unchanged)\n"
    assert run("contacts", "show", "bob", "--json").json["updated_at"] != before
    assert run("contacts", "show", "bob", "--json").json["updated_at"] == "2026-11-24T09:00:00Z"
