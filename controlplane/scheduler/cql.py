"""The ECS Cluster Query Language: ``parse(text)`` gives an ``Expr`` whose ``evaluate(node)``
says whether a container instance is a member.

Grammar (``subject operator [argument]`` joined by boolean operators)::

    expr    := and (("or" | "||") and)*
    and     := unary (("and" | "&&") unary)*
    unary   := ("not" | "!") unary | "(" expr ")" | cond
    cond    := subject op value | subject ("in" | "not_in" | "!in") list
             | subject ("exists" | "!exists" | "not_exists")
    list    := ("[" | "(") value ("," value)* ("]" | ")")
    value   := bare-word | 'quoted' | "quoted"

Subjects: ``attribute:<name>``, ``ec2InstanceId`` (alias ``instanceId``: the node id),
``registeredAt`` (dates as ECS accepts them, or epoch seconds), ``runningTasksCount``,
``task:group`` and ``agentConnected``. Operators have their ECS word forms too
(``equals``, ``greater_than``, ``matches``...).

Choices where ECS leaves room:

- ``=~`` / ``!~`` take a regular expression that must match the whole value (``t2.*``
  matches ``t2.small``). A pattern that is not a valid regex, such as ``*.large``, is read
  as a shell-style wildcard instead, so both habits work.
- ``task:group == service:production`` is true when at least one live task of that group
  runs on the node; ``!=`` is its negation (no such task), ``in`` true if any listed group
  runs there, ``exists`` true if the node runs any grouped task.
- A missing attribute equals nothing: ``==``, ``in``, ``=~`` and ordering comparisons are
  false, their negations true.
- ``>``/``<`` on attributes compare numerically when both sides are numbers, else as text.

Evaluation takes any object with the ``NodeState`` fields the expression names
(``attributes``, ``id``, ``registered_at``, ``running_tasks_count``, ``groups``,
``connected``), so the scheduler passes its nodes without building a context per node.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 2000
MAX_DEPTH = 64

Predicate = Callable[[Any], bool]


class CQLError(ValueError):
    """A malformed expression; ``position`` is the 1-based column where it went wrong."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} at column {self.position}"


# --- tokens ---------------------------------------------------------------------------

WORD, STRING, OP, LPAREN, RPAREN, LBRACK, RBRACK, COMMA, END = (
    "word", "string", "op", "(", ")", "[", "]", ",", "end",
)

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<op>==|!=|>=|<=|=~|!~|&&|\|\||>|<|!)
  | (?P<punct>[()\[\],])
  | (?P<quote>['"])
  | (?P<word>[^\s'"\[\](),!=<>&|~]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = " (did you mean '=='?)" if ch == "=" else ""
            hint = " (did you mean '&&'?)" if ch == "&" else hint
            hint = " (did you mean '||'?)" if ch == "|" else hint
            raise CQLError(f"unexpected character {ch!r}{hint}", pos + 1)
        kind = m.lastgroup
        if kind == "space":
            pos = m.end()
        elif kind == "op":
            tokens.append(Token(OP, m.group(), pos + 1))
            pos = m.end()
        elif kind == "punct":
            tokens.append(Token(m.group(), m.group(), pos + 1))
            pos = m.end()
        elif kind == "quote":
            value, pos = _read_quoted(text, pos)
            tokens.append(Token(STRING, value, m.start() + 1))
        else:
            tokens.append(Token(WORD, m.group(), pos + 1))
            pos = m.end()
    tokens.append(Token(END, "", len(text) + 1))
    return tokens


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        # Only the quote and the backslash itself are escapes: regexes keep their '\.'.
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise CQLError("unterminated quoted string", start + 1)


# --- expressions ----------------------------------------------------------------------


class Expr:
    """A parsed expression. ``dynamic`` is true when the result depends on what runs on the
    node (``task:group``, ``runningTasksCount``), so it must be re-checked as tasks land."""

    predicate: Predicate
    dynamic: bool

    def evaluate(self, ctx: Any) -> bool:
        return self.predicate(ctx)


class Compare(Expr):
    def __init__(self, subject: str, op: str, argument: object, predicate: Predicate, dynamic: bool):
        self.subject = subject
        self.op = op
        self.argument = argument
        self.predicate = predicate
        self.dynamic = dynamic

    def __str__(self) -> str:
        if self.op in ("exists", "!exists"):
            return f"{self.subject} {self.op}"
        if isinstance(self.argument, tuple):
            return f"{self.subject} {self.op} [{', '.join(map(str, self.argument))}]"
        return f"{self.subject} {self.op} {self.argument}"


class And(Expr):
    def __init__(self, left: Expr, right: Expr) -> None:
        self.left, self.right = left, right
        lp, rp = left.predicate, right.predicate
        self.predicate = lambda c: lp(c) and rp(c)
        self.dynamic = left.dynamic or right.dynamic

    def __str__(self) -> str:
        return f"({self.left} and {self.right})"


class Or(Expr):
    def __init__(self, left: Expr, right: Expr) -> None:
        self.left, self.right = left, right
        lp, rp = left.predicate, right.predicate
        self.predicate = lambda c: lp(c) or rp(c)
        self.dynamic = left.dynamic or right.dynamic

    def __str__(self) -> str:
        return f"({self.left} or {self.right})"


class Not(Expr):
    def __init__(self, inner: Expr) -> None:
        self.inner = inner
        ip = inner.predicate
        self.predicate = lambda c: not ip(c)
        self.dynamic = inner.dynamic

    def __str__(self) -> str:
        return f"not {self.inner}"


# --- operators and subjects -----------------------------------------------------------

_OPERATORS = {
    "==": "==", "equals": "==",
    "!=": "!=", "not_equals": "!=",
    ">": ">", "greater_than": ">",
    ">=": ">=", "greater_than_equal": ">=",
    "<": "<", "less_than": "<",
    "<=": "<=", "less_than_equal": "<=",
    "exists": "exists", "not_exists": "!exists",
    "in": "in", "not_in": "not_in",
    "=~": "=~", "matches": "=~",
    "!~": "!~", "not_matches": "!~",
}
_NEGATED = {"!=": "==", "!exists": "exists", "not_in": "in", "!~": "=~"}
_KEYWORDS = frozenset(("and", "or", "not", *_OPERATORS))
_ORDERING = ("==", "!=", ">", ">=", "<", "<=")
_STRINGY = ("==", "!=", "in", "not_in", "=~", "!~")

_SUBJECT_OPS: dict[str, tuple[str, ...]] = {
    "attribute": (*_ORDERING, "exists", "!exists", "in", "not_in", "=~", "!~"),
    "ec2InstanceId": _STRINGY,
    "registeredAt": _ORDERING,
    "runningTasksCount": _ORDERING,
    "task:group": (*_STRINGY, "exists", "!exists"),
    "agentConnected": _STRINGY,
}
_SUBJECT_NAMES = "attribute:<name>, ec2InstanceId, instanceId, registeredAt, runningTasksCount, " \
    "task:group, agentConnected"

_ORDER_FUNCS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _matcher(pattern: str) -> Callable[[str], bool]:
    try:
        rx = re.compile(pattern)
    except (re.error, OverflowError, RecursionError):
        rx = re.compile(fnmatch.translate(pattern))
    return lambda value: rx.fullmatch(value) is not None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # NaN orders nothing


def _parse_time(text: str) -> float | None:
    number = _number(text)
    if number is not None:
        return number
    try:
        when = dt.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return when.timestamp()
    except (ValueError, OverflowError):
        return None


def _string_predicate(get: Callable[[Any], str | None], op: str, arg: Any) -> Predicate:
    """==, in, =~ and the ordering operators over one string-valued subject; None means the
    node has no such value."""
    if op == "==":
        return lambda c: get(c) == arg
    if op == "in":
        members = frozenset(arg)
        return lambda c: get(c) in members
    if op == "=~":
        match = _matcher(arg)

        def matches(c: Any) -> bool:
            value = get(c)
            return value is not None and match(value)

        return matches
    compare = _ORDER_FUNCS[op]
    number = _number(arg)

    def ordered(c: Any) -> bool:
        value = get(c)
        if value is None:
            return False
        if number is not None:
            mine = _number(value)
            if mine is not None:
                return compare(mine, number)
        return compare(value, arg)

    return ordered


def _group_predicate(op: str, arg: Any) -> Predicate:
    if op == "==":
        return lambda c: c.groups.get(arg, 0) > 0
    if op == "in":
        members = tuple(arg)
        return lambda c: any(c.groups.get(g, 0) > 0 for g in members)
    if op == "exists":
        return lambda c: any(n > 0 for n in c.groups.values())
    match = _matcher(arg)
    return lambda c: any(n > 0 and match(g) for g, n in c.groups.items())


def _build(subject: str, name: str, op: str, arg: Any) -> tuple[Predicate, bool]:
    """The predicate for a positive operator (negations wrap it) and whether it is dynamic."""
    if subject == "attribute":
        # The common forms read the mapping directly: one call per node on the hot path.
        if op == "exists":
            return (lambda c: name in c.attributes), False
        if op == "==":
            return (lambda c: c.attributes.get(name) == arg), False
        if op == "in":
            members = frozenset(arg)
            return (lambda c: c.attributes.get(name) in members), False
        return _string_predicate(lambda c: c.attributes.get(name), op, arg), False
    if subject == "ec2InstanceId":
        return _string_predicate(lambda c: c.id, op, arg), False
    if subject == "agentConnected":
        return _string_predicate(lambda c: "true" if c.connected else "false", op, arg), False
    if subject == "task:group":
        return _group_predicate(op, arg), True
    compare = _ORDER_FUNCS[op]
    if subject == "registeredAt":
        return (lambda c: compare(c.registered_at, arg)), False
    return (lambda c: compare(c.running_tasks_count, arg)), True


# --- parser ---------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != END:
            self.i += 1
        return tok

    def unexpected(self, tok: Token, wanted: str = "") -> CQLError:
        what = "end of expression" if tok.kind == END else f"token {tok.text!r}"
        return CQLError(f"unexpected {what}" + (f", expected {wanted}" if wanted else ""), tok.column)

    def is_word(self, tok: Token, *words: str) -> bool:
        return tok.kind == WORD and tok.text in words

    def parse(self) -> Expr:
        if self.peek().kind == END:
            raise CQLError("empty expression", 1)
        expr = self.parse_or()
        tok = self.peek()
        if tok.kind != END:
            raise self.unexpected(tok)
        return expr

    def parse_or(self) -> Expr:
        left = self.parse_and()
        while ((tok := self.peek()).kind == OP and tok.text == "||") or self.is_word(tok, "or"):
            self.take()
            left = Or(left, self.parse_and())
        return left

    def parse_and(self) -> Expr:
        left = self.parse_unary()
        while ((tok := self.peek()).kind == OP and tok.text == "&&") or self.is_word(tok, "and"):
            self.take()
            left = And(left, self.parse_unary())
        return left

    def parse_unary(self) -> Expr:
        tok = self.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CQLError(f"expression nested deeper than {MAX_DEPTH} levels", tok.column)
        try:
            if (tok.kind == OP and tok.text == "!") or self.is_word(tok, "not"):
                self.take()
                return Not(self.parse_unary())
            if tok.kind == LPAREN:
                self.take()
                inner = self.parse_or()
                close = self.take()
                if close.kind != RPAREN:
                    raise self.unexpected(close, "')'")
                return inner
            return self.parse_condition()
        finally:
            self.depth -= 1

    def parse_condition(self) -> Compare:
        tok = self.take()
        if tok.kind != WORD or tok.text in _KEYWORDS:
            raise self.unexpected(tok, "a subject such as attribute:<name>")
        subject, name = self.subject(tok)
        op_tok = self.peek()
        op = self.operator()
        if op not in _SUBJECT_OPS[subject]:
            allowed = ", ".join(_SUBJECT_OPS[subject])
            raise CQLError(f"operator {op!r} does not apply to {tok.text} (use one of {allowed})",
                           op_tok.column)
        positive = _NEGATED.get(op, op)
        arg: Any = None
        shown: Any = None
        if positive == "in":
            values = self.value_list()
            arg = tuple(self.convert(subject, positive, v) for v in values)
            shown = tuple(v.text for v in values)
        elif positive != "exists":
            value_tok = self.take()
            if value_tok.kind not in (WORD, STRING):
                raise self.unexpected(value_tok, f"a value after {op_tok.text!r}")
            arg = self.convert(subject, positive, value_tok)
            shown = value_tok.text
        predicate, dynamic = _build(subject, name, positive, arg)
        if subject == "attribute" and op == "!=":
            predicate = lambda c: c.attributes.get(name) != arg  # noqa: E731 - missing counts as unequal
        elif op != positive:
            inner = predicate
            predicate = lambda c: not inner(c)  # noqa: E731 - a closure per node is the point
        return Compare(tok.text, op, shown, predicate, dynamic)

    def subject(self, tok: Token) -> tuple[str, str]:
        text = tok.text
        if text.startswith("attribute:"):
            name = text[len("attribute:"):]
            if not name:
                raise CQLError("attribute: needs a name, e.g. attribute:ecs.instance-type", tok.column)
            return "attribute", name
        if text in ("ec2InstanceId", "instanceId"):
            return "ec2InstanceId", ""
        if text in _SUBJECT_OPS and text != "attribute":
            return text, ""
        raise CQLError(f"unknown subject {text!r} (want {_SUBJECT_NAMES})", tok.column)

    def operator(self) -> str:
        tok = self.take()
        if tok.kind == OP and tok.text == "!":
            nxt = self.take()
            if self.is_word(nxt, "in", "exists"):
                return "not_in" if nxt.text == "in" else "!exists"
            raise self.unexpected(nxt, "'in' or 'exists' after '!'")
        if tok.kind in (OP, WORD) and tok.text in _OPERATORS:
            return _OPERATORS[tok.text]
        raise self.unexpected(tok, "an operator such as == or in")

    def value_list(self) -> list[Token]:
        open_tok = self.take()
        if open_tok.kind not in (LBRACK, LPAREN):
            raise self.unexpected(open_tok, "a list such as [a, b]")
        closer = RBRACK if open_tok.kind == LBRACK else RPAREN
        values: list[Token] = []
        while True:
            tok = self.take()
            if tok.kind not in (WORD, STRING):
                raise self.unexpected(tok, "a list value")
            values.append(tok)
            sep = self.take()
            if sep.kind == closer:
                return values
            if sep.kind != COMMA:
                raise self.unexpected(sep, f"',' or '{closer}'")

    def convert(self, subject: str, op: str, tok: Token) -> Any:
        text = tok.text
        if subject == "registeredAt":
            when = _parse_time(text)
            if when is None:
                raise CQLError(f"registeredAt needs a date like 2018-06-18T22:28:28Z or epoch "
                               f"seconds, not {text!r}", tok.column)
            return when
        if subject == "runningTasksCount":
            try:
                count = int(text)
            except ValueError:
                raise CQLError(f"runningTasksCount needs a whole number, not {text!r}",
                               tok.column) from None
            return count
        if subject == "agentConnected" and op != "=~":
            if text.lower() not in ("true", "false"):
                raise CQLError(f"agentConnected is true or false, not {text!r}", tok.column)
            return text.lower()
        return text


def parse(text: str) -> Expr:
    """Parse a CQL expression; raises ``CQLError`` (with a 1-based column) and nothing else."""
    if not isinstance(text, str):
        raise CQLError("expression must be a string", 1)
    if len(text) > MAX_LENGTH:
        raise CQLError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH + 1)
    return _Parser(text).parse()


@functools.lru_cache(maxsize=1024)
def compiled(text: str) -> Expr:
    """``parse`` memoised: expressions are immutable and services re-plan with the same ones."""
    return parse(text)
