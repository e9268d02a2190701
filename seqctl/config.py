"""seqctl.yaml: found, read with positions, validated by schemas/config.schema.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqctl.errors import ConfigError
from seqctl.playbook.config_rules import credential_findings
from seqctl.playbook.schema import CONFIG_SCHEMA, schema_findings
from seqctl.playbook.source import LoadError, load_document
from seqctl.store.location import Location, locate

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

    def database(self) -> Location:
        """The database: `database` (a file relative to this one, or a postgresql:// URL)."""
        password_env = self.data.get("password_env")
        return locate(
            str(self.data.get("database", DEFAULT_DB)),
            base=self.root,
            password_env=str(password_env) if password_env else None,
        )

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
