"""A role's policy document in IAM's JSON grammar, parsed and judged.

``parse`` checks a document (Version, Statement[] of Effect, Action or NotAction, Resource
with ``*`` and ``?`` wildcards) against the actions Shoal knows and names the offending field
(``Statement[1].Effect``), as IAM's MalformedPolicyDocument does. ``allows`` judges one request
as IAM does for an identity policy: an explicit Deny wins, else an Allow admits, else the
request is denied by default. Pure: no store, no clock."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

VERSIONS = ("2012-10-17", "2008-10-17")
MAX_DOCUMENT_BYTES = 6144  # IAM's limit for a role's inline policies
MAX_STATEMENTS = 100
# The services Shoal answers for; an action is written "<service>:<Operation>".
SERVICES = ("ecs", "ecr", "elasticloadbalancing", "shoal")
_ACTION = re.compile(r"([a-z-]+):([A-Za-z*?]{1,128})")
_ARN = re.compile(r"arn:[a-z*?-]*:[a-z0-9*?-]*:[a-z0-9*?-]*:[0-9*?]*:\S{1,1024}")
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition",
                             "Principal", "NotPrincipal"})
_UNSUPPORTED = {"Condition": "conditions are not evaluated by Shoal",
                "NotResource": "use Resource with a Deny statement",
                "Principal": "a role's policy is an identity policy: its principal is the task",
                "NotPrincipal": "a role's policy is an identity policy: its principal is the task"}


class PolicyError(ValueError):
    """A malformed document; the message starts with the offending field's path."""


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


@lru_cache(maxsize=1024)
def _pattern(glob: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in glob), re.DOTALL)


def matches(glob: str, value: str, case_sensitive: bool = True) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one; actions ignore case."""
    if not case_sensitive:
        glob, value = glob.lower(), value.lower()
    return _pattern(glob).fullmatch(value) is not None


def parse(text: str | bytes, known_actions: Iterable[str] | None) -> Policy:
    """The document in ``text``, checked; raises PolicyError naming the field at fault.
    ``known_actions``: every "<service>:<Operation>" Shoal answers (an action without a
    wildcard must be one of them; one with a wildcard must match at least one)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise PolicyError(f"PolicyDocument: at most {MAX_DOCUMENT_BYTES} bytes, got {len(text)}")
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PolicyError(f"PolicyDocument: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise PolicyError("PolicyDocument: must be a JSON object")
    extra = sorted(set(doc) - {"Version", "Statement", "Id"})
    if extra:
        raise PolicyError(f"{extra[0]}: unknown field (a policy has Version, Id and Statement)")
    version = doc.get("Version")
    if version not in VERSIONS:
        raise PolicyError(f"Version: must be {VERSIONS[0]!r} (or {VERSIONS[1]!r}), got {_short(version)}")
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PolicyError("Statement: must be a statement or a non-empty list of statements")
    if len(raw) > MAX_STATEMENTS:
        raise PolicyError(f"Statement: at most {MAX_STATEMENTS} statements")
    known = None if known_actions is None else frozenset(a.lower() for a in known_actions)
    return Policy(version, tuple(_statement(f"Statement[{i}]", s, known) for i, s in enumerate(raw)))


def _statement(path: str, raw: object, known: frozenset[str] | None) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: must be a JSON object")
    for key in sorted(raw):
        if key not in _STATEMENT_KEYS:
            raise PolicyError(f"{path}.{key[:40]}: unknown field")
        if key in _UNSUPPORTED:
            raise PolicyError(f"{path}.{key}: not supported ({_UNSUPPORTED[key]})")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str) or not re.fullmatch(r"[A-Za-z0-9]*", sid):
        raise PolicyError(f"{path}.Sid: letters and digits only")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f"{path}.Effect: must be Allow or Deny, got {_short(effect)}")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{path}.Action: a statement has exactly one of Action and NotAction")
    field = "Action" if "Action" in raw else "NotAction"
    actions = _strings(f"{path}.{field}", raw[field])
    for i, action in enumerate(actions):
        _check_action(f"{path}.{field}[{i}]", action, known)
    if "Resource" not in raw:
        raise PolicyError(f"{path}.Resource: required")
    resources = _strings(f"{path}.Resource", raw["Resource"])
    for i, resource in enumerate(resources):
        if resource != "*" and not _ARN.fullmatch(resource):
            raise PolicyError(f"{path}.Resource[{i}]: must be * or an ARN (arn:aws:ecs:REGION:ACCOUNT:...), "
                              f"got {_short(resource)}")
    return Statement(effect, actions, field == "NotAction", resources)


def _strings(path: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{path}: must be a non-empty string or a non-empty list of them")
    return tuple(value)


def _check_action(path: str, action: str, known: frozenset[str] | None) -> None:
    if action == "*":
        return
    match = _ACTION.fullmatch(action)
    if match is None or match[1] not in SERVICES:
        raise PolicyError(f"{path}: {_short(action)} is not an action: want <service>:<Operation> with service "
                          f"one of {', '.join(SERVICES)}")
    if known is not None and not any(matches(action, name, case_sensitive=False) for name in known):
        raise PolicyError(f"{path}: {_short(action)} names no action Shoal answers")


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def allows(policy: Policy, action: str, resource: str) -> bool:
    """Whether ``policy`` lets its holder run ``action`` on ``resource`` (an ARN or ``*``):
    an explicit Deny wins over any Allow; nothing matching is a deny."""
    allowed = False
    for st in policy.statements:
        named = any(matches(glob, action, case_sensitive=False) for glob in st.actions)
        if named == st.not_action:
            continue
        if not any(matches(glob, resource) for glob in st.resources):
            continue
        if st.effect == "Deny":
            return False
        allowed = True
    return allowed
