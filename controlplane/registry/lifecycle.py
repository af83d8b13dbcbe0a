"""Lifecycle policies in ECR's JSON format: parsing with errors naming the field, and which
images a policy expires (pure; the sweep in lifecycle_sweep.py applies it).

A policy is ``{"rules": [...]}``; each rule has a ``rulePriority`` (a unique integer, lower
first), a ``selection`` (``tagStatus`` tagged/untagged/any, ``tagPrefixList`` for tagged,
``countType`` imageCountMoreThan or sinceImagePushed with ``countUnit`` days, ``countNumber``)
and ``action.type`` expire. As in ECR, each image is judged by the first rule (by priority)
whose selection it matches, and by no later one; a rule with tagStatus any comes last."""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_POLICY_BYTES = 30720  # ECR's limit on lifecyclePolicyText
DAY = 86400.0

_POLICY_FIELDS = {"rules"}
_RULE_FIELDS = {"rulePriority", "description", "selection", "action"}
_SELECTION_FIELDS = {"tagStatus", "tagPrefixList", "countType", "countUnit", "countNumber"}
_ACTION_FIELDS = {"type"}


class PolicyError(ValueError):
    """A policy that cannot be applied; the message names the field."""


@dataclass(frozen=True)
class Rule:
    priority: int
    tag_status: str
    prefixes: tuple[str, ...]
    count_type: str
    count: int


@dataclass(frozen=True)
class Candidate:
    """An image as the sweep sees it: its digest, tags (none: untagged) and push time (0:
    not known)."""
    digest: str
    tags: tuple[str, ...]
    pushed_at: float


def _fields(doc: object, allowed: set[str], where: str) -> dict:
    if not isinstance(doc, dict):
        raise PolicyError(f"{where}: want a JSON object")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise PolicyError(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(allowed))})")
    return doc


def _int(value: object, where: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PolicyError(f"{where}: want an integer of at least {low}, got {json.dumps(value)[:40]}")
    return value


def _rule(doc: object, where: str) -> Rule:
    doc = _fields(doc, _RULE_FIELDS, where)
    for name in ("rulePriority", "selection", "action"):
        if name not in doc:
            raise PolicyError(f"{where}.{name}: required")
    priority = _int(doc["rulePriority"], f"{where}.rulePriority", 1)
    if not isinstance(doc.get("description", ""), str):
        raise PolicyError(f"{where}.description: want a string")
    action = _fields(doc["action"], _ACTION_FIELDS, f"{where}.action")
    if action.get("type") != "expire":
        raise PolicyError(f"{where}.action.type: want \"expire\"")
    sel = _fields(doc["selection"], _SELECTION_FIELDS, f"{where}.selection")
    at = f"{where}.selection"
    status = sel.get("tagStatus")
    if status not in ("tagged", "untagged", "any"):
        raise PolicyError(f"{at}.tagStatus: want tagged, untagged or any")
    prefixes = sel.get("tagPrefixList")
    if status == "tagged":
        if not isinstance(prefixes, list) or not prefixes or \
                not all(isinstance(p, str) and p for p in prefixes):
            raise PolicyError(f"{at}.tagPrefixList: required with tagStatus tagged, a list of non-empty strings")
    elif prefixes is not None:
        raise PolicyError(f"{at}.tagPrefixList: only with tagStatus tagged")
    count_type = sel.get("countType")
    if count_type == "imageCountMoreThan":
        if "countUnit" in sel:
            raise PolicyError(f"{at}.countUnit: only with countType sinceImagePushed")
    elif count_type == "sinceImagePushed":
        if sel.get("countUnit") != "days":
            raise PolicyError(f"{at}.countUnit: want \"days\" with countType sinceImagePushed")
    else:
        raise PolicyError(f"{at}.countType: want imageCountMoreThan or sinceImagePushed")
    if "countNumber" not in sel:
        raise PolicyError(f"{at}.countNumber: required")
    count = _int(sel["countNumber"], f"{at}.countNumber", 1)
    return Rule(priority, status, tuple(prefixes or ()), count_type, count)


def parse(text: str) -> list[Rule]:
    """The rules of ``text`` in priority order; raises PolicyError naming the field."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise PolicyError(f"lifecyclePolicyText: at most {MAX_POLICY_BYTES} bytes")
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise PolicyError(f"lifecyclePolicyText: not JSON: {exc}") from None
    doc = _fields(doc, _POLICY_FIELDS, "lifecyclePolicyText")
    raw = doc.get("rules")
    if not isinstance(raw, list) or not raw:
        raise PolicyError("rules: required, a non-empty list")
    rules = [_rule(item, f"rules[{i}]") for i, item in enumerate(raw)]
    seen: dict[int, int] = {}
    for i, rule in enumerate(rules):
        if rule.priority in seen:
            raise PolicyError(f"rules[{i}].rulePriority: {rule.priority} is also rules[{seen[rule.priority]}]'s")
        seen[rule.priority] = i
    ordered = sorted(rules, key=lambda r: r.priority)
    if any(r.tag_status == "any" for r in ordered[:-1]):
        i = next(i for i, r in enumerate(rules) if r.tag_status == "any" and r is not ordered[-1])
        raise PolicyError(f"rules[{i}].rulePriority: a rule with tagStatus any must have the highest rulePriority")
    return ordered


def _selects(rule: Rule, image: Candidate) -> bool:
    if rule.tag_status == "any":
        return True
    if rule.tag_status == "untagged":
        return not image.tags
    return any(t.startswith(p) for t in image.tags for p in rule.prefixes)


def expired(rules: list[Rule], images: list[Candidate], now: float) -> list[Candidate]:
    """The images ``rules`` expire at ``now``. An image with no known push time counts as
    the oldest for imageCountMoreThan and is never expired by age."""
    claimed: set[str] = set()
    out: list[Candidate] = []
    for rule in rules:
        mine = [i for i in images if i.digest not in claimed and _selects(rule, i)]
        claimed.update(i.digest for i in mine)
        if rule.count_type == "imageCountMoreThan":
            newest_first = sorted(mine, key=lambda i: i.pushed_at, reverse=True)
            out.extend(newest_first[rule.count:])
        else:
            out.extend(i for i in mine if i.pushed_at and now - i.pushed_at > rule.count * DAY)
    return out
