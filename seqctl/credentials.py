"""Secrets in the configuration: which keys hold one, and how to speak of one without showing it.

Secrets live in environment variables; seqctl.yaml only names them (`password_env:
SMTP_PASSWORD`). People still type a password where its variable's name goes, or paste a token
into a URL or a header. Every message about such a value says what is wrong and where, never
the value itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from seqctl.errors import ConfigError

# Keys whose values are (or name) a secret: their values are never echoed in an error.
_SECRET_KEY = re.compile(
    r"_env$|secret|token|passw|pwd|api_?key|credential|private_?key|authorization|cookie", re.I
)
# Header names that carry a credential: refused in a webhook's `headers`, kept for headers_env.
_CREDENTIAL_HEADER = re.compile(
    r"auth|token|secret|passw|cookie|credential|session|api-?key|access-?key|signature", re.I
)
HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")  # an HTTP token
# A name that reads as an environment variable: upper case words joined by underscores.
_SHOWN_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")


def is_loopback(host: str) -> bool:
    """Whether the server is this machine (a password sent to it never crosses a network)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def plaintext_login(spec: Mapping[str, object]) -> bool:
    """An smtp channel that would send its password unencrypted across a network: a login
    (username_env) over security none to a host that is not this machine, not allowed by
    allow_plaintext_auth."""
    return (
        spec.get("kind") == "smtp"
        and bool(spec.get("username_env"))
        and spec.get("security", "none") == "none"
        and not spec.get("allow_plaintext_auth")
        and not is_loopback(str(spec.get("host", "")))
    )


def is_secret_key(key: object) -> bool:
    """A key whose value is, or names, a secret (password_env, secret, token, api_key...)."""
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


def is_secret_path(path: Sequence[object]) -> bool:
    """A value at this path of a document is secret-bearing: under a secret key, or the value of
    a credential header (`headers: {Authorization: ...}`)."""
    for index, key in enumerate(path):
        if is_secret_key(key):
            return True
        if key in ("headers", "headers_env") and index + 1 < len(path):
            if is_credential_header(path[index + 1]):
                return True
    return False


def is_credential_header(name: object) -> bool:
    """An HTTP header that carries a credential: Authorization, X-Api-Key, Cookie..."""
    return isinstance(name, str) and _CREDENTIAL_HEADER.search(name) is not None


def shown(name: str) -> bool:
    """Whether a message may name the variable `name`: it reads as one (SMTP_PASSWORD); any other
    text in an *_env key may be the secret itself, typed there by mistake."""
    return _SHOWN_NAME.fullmatch(name) is not None


def env_value(environ: Mapping[str, str], name: str, where: str) -> str:
    """The secret in the environment variable `name`, given by the key `where`; ConfigError
    when it is not set, naming the variable only when `shown`, never showing a value."""
    value = environ.get(name)
    if value:
        return value
    if shown(name):
        raise ConfigError(f"{where}: environment variable {name} is not set")
    raise ConfigError(
        f"{where}: the environment variable it names is not set (the name is not shown, in "
        "case it is the secret itself: this key takes the name of an environment variable, "
        "such as SMTP_PASSWORD, that holds the secret)"
    )


def headers_env_example(header: str) -> str:
    """How to give the header `header` from the environment, as a message suggests it."""
    variable = "WEBHOOK_" + re.sub(r"[^A-Za-z0-9]+", "_", header).strip("_").upper()
    return f"headers_env: {{{header}: {variable}}}"


def hide(text: str, secrets: Sequence[str]) -> str:
    """`text` with these secrets, and each long word of them (the token of `Bearer <token>`),
    replaced by ***: for a server that echoes what it was sent in its error."""
    words = {word for value in secrets for word in (value, *value.split()) if len(word) >= 8}
    for word in sorted(words, key=len, reverse=True):
        text = text.replace(word, "***")
    return text


def url_has_credentials(url: str) -> bool:
    """`https://user:pass@host/...`: a URL with a user name or password in it."""
    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return "@" in url.partition("://")[2].partition("/")[0]


def redacted_url(url: str) -> str:
    """The URL as a message may show it: without the user name and password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return f"{scheme}{sep}{authority}{slash}{path}"
