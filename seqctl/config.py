"""seqctl.yaml: found, read with positions, validated by schemas/config.schema.json."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqctl.credentials import (
    HEADER_NAME,
    headers_env_example,
    is_credential_header,
    plaintext_login,
    url_has_credentials,
)
from seqctl.errors import ConfigError
from seqctl.playbook.findings import Finding
from seqctl.playbook.schema import CONFIG_SCHEMA, schema_findings
from seqctl.playbook.source import Document, JsonPath, LoadError, load_document

CONFIG_NAME = "seqctl.yaml"
DEFAULT_DB = "seqctl.db"


@dataclass(frozen=True)
class Config:
    """The settings in force: the file they came from (if any) and its data."""

    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        """The folder paths in the config are relative to."""
        return self.path.parent if self.path is not None else Path.cwd()

    def database(self) -> Path:
        return self.root / str(self.data.get("database", DEFAULT_DB))

    @property
    def playbooks(self) -> Path:
        return self.root / str(self.data.get("playbooks", "playbooks"))

    @property
    def channels(self) -> dict[str, Any]:
        channels: dict[str, Any] = self.data.get("channels") or {}
        return channels


def find_config(explicit: Path | None) -> Path | None:
    """--config / SEQCTL_CONFIG when given, else ./seqctl.yaml when it exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: no such configuration file")
        return explicit
    candidate = Path.cwd() / CONFIG_NAME
    return candidate if candidate.is_file() else None


def load_config(explicit: Path | None = None) -> Config:
    """Read and validate the configuration; a bad file is a ConfigError naming line and column."""
    path = find_config(explicit)
    if path is None:
        return Config()
    shown = str(explicit) if explicit is not None else CONFIG_NAME
    try:
        document = load_document(path, display=shown)
    except LoadError as exc:
        raise ConfigError("\n".join(str(f) for f in exc.findings)) from None
    findings = schema_findings(document, CONFIG_SCHEMA) + credential_findings(document)
    if findings:
        raise ConfigError("\n".join(str(f) for f in sorted(set(findings))))
    data: dict[str, Any] = document.data
    return Config(path, data)


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
