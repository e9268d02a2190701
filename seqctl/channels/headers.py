"""A webhook's HTTP headers: from the configuration, from the environment, and from data.

A value written in seqctl.yaml is one line of plain text and never a credential: the file sits
in git. A credential (`Authorization: Bearer ...`, an API key) comes from an environment
variable named in `headers_env`. A value made from data, such as the idempotency key, is
percent-encoded wherever it is not plain visible ASCII, so nothing in it can end its header
or start another.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from seqctl import __version__, credentials
from seqctl.channels.base import Delivery
from seqctl.errors import ConfigError

# Set by seqctl (or by http.client) for every request: not to be overridden from the file.
RESERVED = frozenset(
    ("content-type", "content-length", "host", "idempotency-key", "x-seqctl-signature")
    + ("transfer-encoding", "connection")
    + ("webhook-id", "webhook-timestamp", "webhook-signature")  # Standard Webhooks
)
_LINE = re.compile(r"[\t\x20-\x7e]*")  # one line of visible ASCII, spaces and tabs
_AS_IS = re.compile(r"[!-$&-~]+")  # visible ASCII but %: goes as it is
_KEPT = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%")


def configured_headers(
    spec: Mapping[str, Any], environ: Mapping[str, str], where: str
) -> dict[str, str]:
    """The extra headers of a webhook channel: `headers` (plain values, no credentials), then
    `headers_env` (name -> environment variable holding the value), then a User-Agent."""
    checked: dict[str, str] = {}
    for name, value in (spec.get("headers") or {}).items():
        name = _name(name, f"{where}.headers", checked)
        if credentials.is_credential_header(name):
            raise ConfigError(
                f"{where}.headers.{name}: a credential does not go in seqctl.yaml; put it in "
                "an environment variable and name that variable in the channel's headers_env, "
                f"such as {credentials.headers_env_example(name)}"
            )
        if not _LINE.fullmatch(str(value)):
            raise ConfigError(
                f"{where}.headers.{name}: a value must be one line of printable ASCII"
            )
        checked[name] = str(value)
    for name, variable in (spec.get("headers_env") or {}).items():
        name = _name(name, f"{where}.headers_env", checked)
        key = f"{where}.headers_env.{name}"
        value = credentials.env_value(environ, str(variable), key)
        if not _LINE.fullmatch(value):
            shown = str(variable) if credentials.shown(str(variable)) else "it names"
            raise ConfigError(
                f"{key}: the environment variable {shown} does not hold one line of printable "
                "ASCII (its value is not shown)"
            )
        checked[name] = value
    if not any(header.lower() == "user-agent" for header in checked):
        checked["User-Agent"] = f"seqctl/{__version__}"
    return checked


def without_secrets(delivery: Delivery, secrets: Sequence[str]) -> Delivery:
    """The delivery with the values of headers_env hidden from its error (a server's reply
    that echoes the request's headers would otherwise put them in the database)."""
    if secrets and delivery.error:
        delivery.error = credentials.hide(delivery.error, secrets)
    return delivery


def header_from_data(text: str) -> str:
    """A header value made from data: as it is when it is visible ASCII without `%`, else
    percent-encoded as UTF-8 (which keeps two different texts different)."""
    if _AS_IS.fullmatch(text):
        return text
    return quote(text, safe=_KEPT)


def _name(name: object, where: str, seen: Mapping[str, str]) -> str:
    text = str(name)
    if not credentials.HEADER_NAME.fullmatch(text):  # not shown: `Authorization: Bearer ...`?
        raise ConfigError(
            f"{where}: a header name has only letters, digits and !#$%&'*+.^_`|~- (one is not)"
        )
    if text.lower() in RESERVED:
        raise ConfigError(f"{where}: {text} is set by seqctl")
    if any(text.lower() == other.lower() for other in seen):
        raise ConfigError(f"{where}: {text} is set twice (header names ignore case)")
    return text
