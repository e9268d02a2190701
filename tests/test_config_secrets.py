"""Secrets in seqctl.yaml: a value typed where a variable's name goes is never echoed, and
credentials written in a URL or a header are refused with the way to pass them."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqctl.channels.smtp import SmtpChannel
from seqctl.config import load_config
from seqctl.credentials import is_secret_key, redacted_url, url_has_credentials
from seqctl.engine.messages.tracking import tracking_settings
from seqctl.errors import ConfigError
from tests.conftest import Run, Write

SECRET = "Tr0ub4dor&3-hunter2"


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("line", "at", "expected"),
    [
        # A password typed where the name of its variable goes: the pattern fails.
        (
            f"email: {{kind: smtp, host: h, username_env: U, password_env: '{SECRET}'}}",
            "'",
            "[schema] password_env takes the name of an environment variable (such as "
            "SMTP_PASSWORD: letters, digits and _), not the secret itself; the value is not shown",
        ),
        (
            "email: {kind: smtp, host: h, username_env: U, password_env: 12345678}",
            "12345678",
            "[schema] password_env takes the name of an environment variable",
        ),
        (
            f"sms: {{kind: webhook, url: 'http://h.test/x', secret_env: ['{SECRET}']}}",
            "[",
            "[schema] secret_env takes the name of an environment variable",
        ),
        (
            f"sms: {{kind: webhook, url: 'http://h.test/x', headers_env: {{Authorization: "
            f"'Bearer {SECRET}'}}}}",
            "'Bearer",
            "[schema] Authorization takes the name of an environment variable",
        ),
        (
            "sms: {kind: webhook, url: 'http://h.test/x', headers: {Authorization: 123456}}",
            "123456",
            "[schema] Authorization takes a string; the value is not shown",
        ),
        (
            f"sms: {{kind: webhook, url: 'http://h.test/x', headers: {{'Bearer {SECRET}': x}}}}",
            "'Bearer",
            "[schema] a header name has only letters, digits and !#$%&'*+.^_`|~- (the name is not",
        ),
    ],
)
def test_a_schema_error_about_a_secret_says_where_and_what_but_not_the_value(
    write: Write, line: str, at: str, expected: str
) -> None:
    path = write("seqctl.yaml", f"channels:\n  {line}\n")
    message = config_error(path)

    column = 3 + line.index(at)  # where the value starts
    assert f"{path}:2:{column}: error {expected}" in message
    assert SECRET not in message and "123456" not in message


def test_other_schema_errors_still_show_the_value(write: Write) -> None:
    path = write("seqctl.yaml", "channels:\n  email: {kind: smtp, host: h, security: tsl}\n")
    assert "'tsl' is not one of: none, starttls, tls (did you mean 'tls'?)" in config_error(path)


def test_credentials_in_a_webhook_url_are_refused_at_their_line(write: Write) -> None:
    path = write(
        "seqctl.yaml",
        f"""
        channels:
          sms:
            kind: webhook
            url: "https://ana:{SECRET}@hooks.acme.test/sms"
        tracking: {{base_url: "https://t:{SECRET}@t.acme.test"}}
        """,
    )
    message = config_error(path)

    assert (
        f"{path}:4:10: error [secret-in-config] a user name or password does not go in a URL; "
        in message
    )
    assert "headers_env, such as headers_env: {Authorization: WEBHOOK_AUTHORIZATION}" in message
    assert f"{path}:5:22: error [secret-in-config]" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "header", ["Authorization", "Proxy-Authorization", "X-Api-Key", "X-Auth-Token", "Cookie"]
)
def test_a_literal_credential_header_is_refused_naming_headers_env(
    write: Write, header: str
) -> None:
    path = write(
        "seqctl.yaml",
        f"channels:\n  sms:\n    kind: webhook\n    url: https://h.test/x\n"
        f"    headers: {{X-Tenant: acme, {header}: '{SECRET}'}}\n",
    )
    message = config_error(path)

    assert message.startswith(f"{path}:5:") and "[secret-in-config]" in message
    assert f"{header} carries a credential, which does not go in this file" in message
    assert f"headers_env: {{{header}: WEBHOOK_" in message
    assert SECRET not in message
    assert "X-Tenant" not in message  # a plain header is fine


def test_headers_env_and_plain_headers_pass_the_schema(write: Write) -> None:
    path = write(
        "seqctl.yaml",
        "channels:\n  sms: {kind: webhook, url: 'https://h.test/x', headers: {X-Tenant: acme},"
        " headers_env: {Authorization: HOOK_AUTH}}\n",
    )
    channels = load_config(path).channels
    assert channels["sms"]["headers_env"] == {"Authorization": "HOOK_AUTH"}


def test_the_cli_exits_2_without_printing_the_secret(run: Run, write: Write) -> None:
    write(
        "seqctl.yaml",
        f"channels:\n  email: {{kind: smtp, host: h, username_env: U, password_env: '{SECRET}'}}\n",
    )
    result = run("status", "--json")

    assert result.exit_code == 2
    assert "seqctl.yaml:2:63: error [schema] password_env takes" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_a_secret_that_passes_as_a_name_is_not_echoed_when_its_variable_is_missing() -> None:
    spec = {"kind": "smtp", "host": "h", "username_env": "SMTP_USER", "password_env": "hunter2pw"}
    with pytest.raises(ConfigError) as raised:
        SmtpChannel(spec, name="email", environ={"SMTP_USER": "ana"})

    message = str(raised.value)
    assert message.startswith("channels.email.password_env: the environment variable it names")
    assert "hunter2pw" not in message
    with pytest.raises(ConfigError, match="tracking.secret_env names") as tracked:
        tracking_settings({"tracking": {"base_url": "https://t", "secret_env": "hunter2pw"}}, {})
    assert "hunter2pw" not in str(tracked.value)


def test_a_variable_that_reads_as_one_is_named() -> None:
    spec = {"kind": "smtp", "host": "h", "username_env": "SMTP_USER", "password_env": "SMTP_PW"}
    with pytest.raises(ConfigError, match="environment variable SMTP_PW is not set"):
        SmtpChannel(spec, name="email", environ={"SMTP_USER": "ana"})


def test_serve_does_not_echo_a_secret_given_as_the_variable_name(run: Run) -> None:
    result = run("events", "serve", "--secret-env", "hunter2pw", "--port", "0")

    assert result.exit_code == 2
    assert "named by --secret-env is not set" in result.stderr
    assert "hunter2pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password_env", True), ("secret", True), ("api_key", True), ("token", True),
        ("authorization", True), ("host", False), ("url", False), ("from", False),
    ],
)  # fmt: skip
def test_secret_bearing_keys(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_redacted_urls_keep_the_host() -> None:
    assert redacted_url("https://u:p@h.test:8443/x?y") == "https://***@h.test:8443/x?y"
    assert redacted_url("https://h.test/a@b") == "https://h.test/a@b"
    assert redacted_url("not a url") == "not a url"
    assert url_has_credentials("https://u:p@[::1/x")  # not a URL urlsplit takes, still found
    assert not url_has_credentials("https://h.test/a@b")


@pytest.mark.parametrize(
    ("settings", "refused"),
    [
        ("host: smtp.acme.test, username_env: U, password_env: P", True),
        ("host: smtp.acme.test, security: none, username_env: U, password_env: P", True),
        ("host: smtp.acme.test, security: starttls, username_env: U, password_env: P", False),
        (
            "host: smtp.acme.test, username_env: U, password_env: P, allow_plaintext_auth: true",
            False,
        ),
        ("host: 127.0.0.1, username_env: U, password_env: P", False),  # never leaves the machine
        ("host: '::ffff:127.0.0.1', username_env: U, password_env: P", False),  # the same
        ("host: smtp.acme.test", False),  # no login: nothing to give away
    ],
)
def test_a_login_in_the_clear_across_the_network_is_refused_where_it_is_written(
    run: Run, write: Write, settings: str, refused: bool
) -> None:
    path = write("seqctl.yaml", f"channels:\n  email: {{kind: smtp, {settings}}}\n")

    linted = run("lint", "seqctl.yaml")

    if refused:
        assert message_of(path).startswith(f"{path}:2:") and "[plaintext-login]" in message_of(path)
        assert (
            linted.exit_code == 1 and "[plaintext-login] a login to smtp.acme.test" in linted.stdout
        )
    else:
        assert load_config(path).channels["email"]["kind"] == "smtp"
        assert "[plaintext-login]" not in linted.stdout


def message_of(path: Path) -> str:
    return config_error(path)
