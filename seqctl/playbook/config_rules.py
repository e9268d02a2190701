"""Rules for seqctl.yaml beyond its schema: secrets written where git would keep them, and a
password that would cross the network unencrypted. Every command stops on them; lint reports
them at their line and column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from seqctl.credentials import (
    HEADER_NAME,
    headers_env_example,
    is_credential_header,
    plaintext_login,
    url_has_credentials,
)
from seqctl.playbook.findings import Finding
from seqctl.playbook.source import Document, JsonPath

_IN_A_VARIABLE = (
    "put the credential in an environment variable and name that variable in the channel's "
    "headers_env, such as {}"
)


def credential_findings(document: Document) -> list[Finding]:
    """Credentials written where the file would keep them (it sits in git): in a URL, or as the
    value of an Authorization, X-Api-Key or like header. Never shown in the message."""
    findings: list[Finding] = []
    channels = document.data.get("channels") if isinstance(document.data, dict) else None
    for name, spec in (channels or {}).items() if isinstance(channels, dict) else ():
        if isinstance(spec, dict) and plaintext_login(spec):
            message = (
                f"a login to {spec.get('host')} over security: none sends the password "
                "unencrypted across the network: set security: starttls or tls (or "
                "allow_plaintext_auth: true if you mean it)"
            )
            at = ("channels", name, "security") if "security" in spec else ("channels", name)
            findings.append(document.finding(at, "plaintext-login", message))
    for path, value in _strings(document.data, ()):
        key = path[-1] if path else None
        if isinstance(key, str) and key.endswith("url") and url_has_credentials(value):
            how = _IN_A_VARIABLE.format(headers_env_example("Authorization"))
            message = f"a user name or password does not go in a URL; {how}"
            findings.append(document.finding(path, "secret-in-config", message))
        if len(path) == 4 and path[0] == "channels" and path[2] == "headers":
            # A name that is no header name is the schema's to report (and may hold a token).
            if is_credential_header(key) and HEADER_NAME.fullmatch(str(key)):
                how = _IN_A_VARIABLE.format(headers_env_example(str(key)))
                message = f"{key} carries a credential, which does not go in this file; {how}"
                findings.append(document.finding(path, "secret-in-config", message, key=True))
    return findings


def _strings(data: Any, path: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """Every string value in the document, with its path."""
    if isinstance(data, str):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _strings(value, (*path, index))
