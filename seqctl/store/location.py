"""Where the data lives: an SQLite file (a path), or a PostgreSQL database (a URL).

`--db`, `SEQCTL_DB` and seqctl.yaml's `database` take either. A URL never carries a password:
it comes from the environment (PostgreSQL's own `PGPASSWORD`, or the variable seqctl.yaml's
`password_env` names), so neither a shell history, a process list nor seqctl's messages
ever show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from seqctl.errors import InputError

SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class ServerUrl:
    """A PostgreSQL database: `postgresql://user@host:port/database?options`."""

    url: str
    password_env: str | None = None  # where its password is; PGPASSWORD when None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "localhost"

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 5432

    @property
    def database(self) -> str:
        return unquote(urlsplit(self.url).path.lstrip("/")) or self.user

    @property
    def user(self) -> str:
        return unquote(urlsplit(self.url).username or "") or "postgres"

    def __str__(self) -> str:
        """How messages name it: user, host, port and database (there is no password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


Location = Path | ServerUrl


def is_url(text: str | Path) -> bool:
    return isinstance(text, str) and text.split(":", 1)[0].lower() in SCHEMES and "://" in text


def locate(
    given: str | Path, *, base: Path | None = None, password_env: str | None = None
) -> Location:
    """The location `given` names: a URL as it is, a path relative to `base` (when given).

    InputError for a URL with a password in it, or one that does not parse.
    """
    if isinstance(given, Path) or not is_url(given):
        path = Path(given)
        return base / path if base is not None and not path.is_absolute() else path
    try:
        parts = urlsplit(given)
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise InputError(f"database URL: {exc}") from None
    if parts.password is not None:
        raise InputError(
            "database URL: it holds a password, which would show in shell histories and "
            "process lists; leave it out and set PGPASSWORD (or name the variable with "
            "`password_env` in seqctl.yaml)"
        )
    if not parts.hostname and "host=" not in parts.query:
        raise InputError(f"database URL {given!r}: no host (postgresql://user@host/database)")
    return ServerUrl(given, password_env)
