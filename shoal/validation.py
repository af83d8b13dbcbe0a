"""Checks for user input shared across Shoal: one error type that names the field at fault,
and small validators for names, image references, ports, environment names, `k=v` CLI
arguments and JSON value types. Every check raises ValidationError and nothing else."""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from importlib import resources
from typing import Any

# ECS's own limit for a registered task definition; also bounds what one request can cost.
MAX_TASKDEF_BYTES = 64 * 1024

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Printable ASCII without space: anything else in an image reference is a typo or an attack.
_PRINTABLE = re.compile(r"[!-~]+")

# The docker image reference grammar (github.com/distribution/reference, reference.go).
# The separators share no character with the alphanumerics, so matching stays linear.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]{{1,5}})?")
_TAG = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_NAME_TOTAL_MAX = 255
# name (255) + ":" + tag (128) + "@" + a generous digest; longer input is refused before any regex.
_IMAGE_REF_MAX = 640

_SHOWN_CHARS = 60


class ValidationError(ValueError):
    """Bad user input. `field` is the path of the offending field in the user's own terms
    (ECS JSON names for task definitions, flag names for the CLI)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (ValidationError, (self.field, self.message))


def show(value: Any) -> str:
    """A short, safe rendering of a user's value for an error message: hostile input can
    be megabytes long or hold control characters, so it is truncated and repr'd."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."
    if isinstance(value, str):
        if len(value) > _SHOWN_CHARS:
            return f"the string {value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def quote(text: str) -> str:
    """repr() of a user's string, truncated."""
    if len(text) > _SHOWN_CHARS:
        return f"{text[:_SHOWN_CHARS]!r}..."
    return repr(text)


# --- JSON value types -------------------------------------------------------------------


def expect_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(field, f"must be an object, got {show(value)}")
    return value


def expect_list(value: Any, field: str, *, max_items: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise ValidationError(field, f"must be a list, got {show(value)}")
    if max_items is not None and len(value) > max_items:
        raise ValidationError(field, f"at most {max_items} entries are allowed, got {len(value)}")
    return value


def expect_string(value: Any, field: str, *, max_len: int = 4096, allow_empty: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {show(value)}")
    if not allow_empty and not value:
        raise ValidationError(field, "must not be empty")
    if len(value) > max_len:
        raise ValidationError(field, f"must be at most {max_len} characters, got {len(value)}")
    if "\x00" in value:
        raise ValidationError(field, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # JSON's \ud800 escapes decode to lone surrogates, which protobuf refuses to store.
        raise ValidationError(field, "must be valid Unicode (it holds an unpaired surrogate)") from None
    return value


def check_string_map(values: Mapping[str, str], field: str, max_keys: int = 50, max_value: int = 4096) -> None:
    """A map of settings: at most ``max_keys`` keys of 1-128 characters, values of at most
    ``max_value`` characters."""
    if len(values) > max_keys:
        raise ValidationError(field, f"at most {max_keys} keys")
    for key, value in values.items():
        if not key or len(key) > 128:
            raise ValidationError(field, f"keys must be 1-128 characters, got {key[:40]!r}")
        if len(value) > max_value:
            raise ValidationError(f"{field}.{key}", f"at most {max_value} characters")


def expect_bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"must be true or false, got {show(value)}")
    return value


def expect_int(value: Any, field: str, lo: int, hi: int, *, what: str | None = None) -> int:
    """An integer in [lo, hi]. JSON numbers like 512.0 count as integers; booleans do not
    (Python's True == 1 would otherwise slip through)."""
    description = what or f"an integer from {lo} to {hi}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be {description}, got {show(value)}")
    if not lo <= value <= hi:
        raise ValidationError(field, f"must be {description}, got {show(value)}")
    return value


# --- names, images, ports ------------------------------------------------------------------


def is_plain_ip(address: str) -> bool:
    """An IPv4 or IPv6 address and nothing else. ipaddress takes any text after an IPv6
    address's '%' as its zone, newlines too: no DNS record or proxy config can carry one."""
    if "%" in address:
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


@functools.cache
def _public_tlds() -> frozenset[str]:
    # IANA's list of the root zone's domains (data.iana.org/TLD/tlds-alpha-by-domain.txt; its
    # first line says which version), kept in the package: no lookup at run time.
    text = resources.files("shoal").joinpath("public_tlds.txt").read_text(encoding="ascii")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_public_tld(label: str) -> bool:
    """Whether ``label`` is a top-level domain of the public DNS (com, org, io, dev, app...):
    a zone named so would answer for every name under it."""
    return label.rstrip(".").lower() in _public_tlds()


def has_control(text: str) -> bool:
    """NUL, newlines, terminal escapes: no name or tag of ECS's grammars holds one, and they
    reach logs, tables and other tools' input."""
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def check_name(value: Any, field: str, max_len: int = 255) -> str:
    """An ECS resource name: 1..max_len letters, digits, hyphens and underscores."""
    what = f"1-{max_len} letters, digits, hyphens or underscores"
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a name of {what}, got {show(value)}")
    if not value:
        raise ValidationError(field, "required")
    if len(value) > max_len or not _NAME.fullmatch(value):
        raise ValidationError(field, f"must be {what}, got {quote(value)}")
    return value


def check_image(ref: Any, field: str) -> str:
    """A docker image reference, [registry[:port]/]path[:tag][@digest], checked against the
    grammar docker itself uses, so a bad reference fails at registration, not at pull."""
    if not isinstance(ref, str):
        raise ValidationError(field, f"must be an image reference string, got {show(ref)}")
    if not ref:
        raise ValidationError(field, "required")
    if len(ref) > _IMAGE_REF_MAX:
        raise ValidationError(field, f"image reference is {len(ref)} characters; at most {_IMAGE_REF_MAX}")
    if not _PRINTABLE.fullmatch(ref):
        raise ValidationError(field, f"image reference {quote(ref)} holds spaces or non-ASCII characters")

    def bad(why: str) -> ValidationError:
        return ValidationError(field, f"invalid image reference {quote(ref)}: {why}")

    rest = ref
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise bad("the digest must look like sha256:<64 hex digits>")
    colon, slash = rest.rfind(":"), rest.rfind("/")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.fullmatch(tag):
            raise bad("a tag is 1-128 letters, digits, underscores, periods or hyphens, not starting with . or -")
    if not rest:
        raise bad("no repository name")
    if len(rest) > _NAME_TOTAL_MAX:
        raise bad(f"the repository name is {len(rest)} characters; at most {_NAME_TOTAL_MAX}")
    path = rest
    first, sep, remainder = rest.partition("/")
    # Docker's own rule for telling a registry from the first path component.
    if sep and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        if not _DOMAIN.fullmatch(first):
            raise bad(f"registry {quote(first)} is not a valid host[:port]")
        path = remainder
    for component in path.split("/"):
        if not component:
            raise bad("empty path component (doubled or trailing '/')")
        if not _PATH_COMPONENT.fullmatch(component):
            if component.lower() != component and _PATH_COMPONENT.fullmatch(component.lower()):
                raise bad("repository names must be lower-case")
            raise bad(
                f"path component {quote(component)} must be lower-case letters and digits, "
                "separated by '.', '_', '__' or '-'"
            )
    return ref


def check_port(n: Any, field: str) -> int:
    return expect_int(n, field, 1, 65535, what="a port number from 1 to 65535")


def check_env_name(name: Any, field: str) -> str:
    """An environment variable name as shells accept it: [A-Za-z_][A-Za-z0-9_]*."""
    if not isinstance(name, str):
        raise ValidationError(field, f"must be an environment variable name, got {show(name)}")
    if not name:
        raise ValidationError(field, "required")
    if len(name) > 255 or not _ENV_NAME.fullmatch(name):
        raise ValidationError(
            field, f"must be letters, digits and underscores, not starting with a digit, got {quote(name)}"
        )
    return name


def parse_key_value(text: Any, field: str) -> tuple[str, str]:
    """A CLI `key=value` argument. The value may be empty and may itself hold '='."""
    if not isinstance(text, str):
        raise ValidationError(field, f"must be key=value, got {show(text)}")
    key, sep, value = text.partition("=")
    if not sep:
        raise ValidationError(field, f"must be key=value, got {quote(text)}")
    if not key or key != key.strip():
        raise ValidationError(
            field, f"the key before '=' must be non-empty without surrounding spaces, got {quote(text)}"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError(field, f"must not hold control characters, got {quote(text)}")
    return key, value
