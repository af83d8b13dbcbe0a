"""Who may do what in the cluster registry: a pure mapping from a Shoal role and the scopes
a client asks for (distribution's ``repository:<name>:<actions>``) to the actions granted.

Admins (and replicas) push and pull, viewers and nodes only pull. Pushing needs the
repository's record (``shoal repo create``): a push to a name nobody created is refused with
a sentence saying so, rather than a bare "denied" from the registry. Anything else asked
for and not allowed is left out of the token, as the token protocol wants; the registry then
refuses it ("requested access to the resource is denied")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"pull", "push"}),
    "replica": frozenset({"pull", "push", "delete"}),
    "viewer": frozenset({"pull"}),
    "node": frozenset({"pull"}),
}
# distribution's repository name grammar (path components of lower-case alphanumerics and
# separators), capped like ECR's 256 characters.
_NAME = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
MAX_NAME = 256


class ScopeError(ValueError):
    """A scope or repository name that cannot be granted; the message says why."""


@dataclass(frozen=True)
class Scope:
    type: str
    name: str
    actions: tuple[str, ...]


def check_repository_name(name: str, field: str = "repositoryName") -> str:
    if not name or len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise ScopeError(f"{field}: lower-case letters, digits and . _ - separators, path parts joined by /, "
                         f"at most {MAX_NAME} characters; got {name[:80]!r}")
    return name


def parse_scope(text: str) -> Scope:
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        raise ScopeError(f"scope: want TYPE:NAME:ACTIONS, got {text[:120]!r}")
    return Scope(kind, name, tuple(a for a in actions.split(",") if a))


def grant(role: str, scopes: list[Scope], exists: Callable[[str], bool]) -> list[dict]:
    """The ``access`` claim for ``role`` asking for ``scopes``; raises ScopeError when a push
    is asked of a repository that does not exist (for a role that may push)."""
    allowed = ROLE_ACTIONS.get(role, frozenset())
    out: list[dict] = []
    for scope in scopes:
        if scope.type != "repository":
            continue
        check_repository_name(scope.name, "scope")
        wanted = [a for a in scope.actions if a in allowed]
        if "push" in wanted and not exists(scope.name):
            raise ScopeError(f"repository {scope.name!r} does not exist: create it with "
                             f"`shoal repo create {scope.name}`")
        if wanted:
            out.append({"type": "repository", "name": scope.name, "actions": sorted(set(wanted))})
    return out
