"""The Cluster Query Language: every subject and operator, ECS's documented examples, and
parse errors that point at the right column."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from controlplane.scheduler import NodeState
from controlplane.scheduler.cql import CQLError, compiled, parse

REGISTERED = dt.datetime(2018, 6, 18, 22, 28, 28, tzinfo=dt.UTC).timestamp()


def small_node(**kw: object) -> NodeState:
    base = dict(
        id="i-0abc",
        attributes={"ecs.instance-type": "t2.small", "ecs.availability-zone": "us-east-1a",
                    "ecs.os-type": "linux", "cores": "8", "stack": "prod"},
        registered_at=REGISTERED,
        running_tasks_count=3,
        groups=Counter({"service:production": 2, "family:batch": 0}),
        connected=True,
    )
    base.update(kw)
    return NodeState(**base)  # type: ignore[arg-type]


def ev(expr: str, **kw: object) -> bool:
    return parse(expr).evaluate(small_node(**kw))


# --- ECS documentation examples ---------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("attribute:ecs.instance-type == t2.small", True),
        ("attribute:ecs.instance-type == t2.medium", False),
        ("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]", True),
        ("attribute:ecs.availability-zone in [us-east-1c, us-east-1d]", False),
        ("task:group == service:production", True),
        ("task:group == service:staging", False),
        ("not(attribute:ecs.instance-type =~ t2.*)", False),
        ("not(attribute:ecs.instance-type =~ m5.*)", True),
        ("attribute:ecs.instance-type =~ t2.* and attribute:ecs.availability-zone != us-east-1d", True),
        ("ec2InstanceId in ['i-0abc', 'i-0def']", True),
        ("not(task:group == service:production)", False),
        ("runningTasksCount == 3", True),
        ("registeredAt < 2018-06-19", True),
        ("attribute:ecs.os-type exists", True),
    ],
)
def test_ecs_documentation_examples(expr: str, want: bool) -> None:
    assert ev(expr) is want


# --- operators ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("attribute:stack == prod", True),
        ("attribute:stack equals prod", True),
        ("attribute:stack != prod", False),
        ("attribute:stack not_equals staging", True),
        ("attribute:cores > 4", True),
        ("attribute:cores greater_than 8", False),
        ("attribute:cores >= 8", True),
        ("attribute:cores greater_than_equal 9", False),
        ("attribute:cores < 10", True),  # numeric, although "10" < "8" as text
        ("attribute:cores less_than 8", False),
        ("attribute:cores <= 8", True),
        ("attribute:cores less_than_equal 7", False),
        ("attribute:stack > alpha", True),  # text comparison when not numbers
        ("attribute:stack exists", True),
        ("attribute:gpu exists", False),
        ("attribute:gpu !exists", True),
        ("attribute:stack not_exists", False),
        ("attribute:stack in [prod, staging]", True),
        ("attribute:stack in (dev, staging)", False),
        ("attribute:stack not_in [dev]", True),
        ("attribute:stack !in [prod]", False),
        ("attribute:ecs.instance-type =~ t2\\..*", True),
        ("attribute:ecs.instance-type matches 'm5.*'", False),
        ("attribute:ecs.instance-type !~ m5.*", True),
        ("attribute:ecs.instance-type not_matches t2.*", False),
    ],
)
def test_every_operator(expr: str, want: bool) -> None:
    assert ev(expr) is want


def test_missing_attribute_equals_nothing() -> None:
    assert not ev("attribute:gpu == yes")
    assert ev("attribute:gpu != yes")
    assert not ev("attribute:gpu in [yes, no]")
    assert ev("attribute:gpu not_in [yes, no]")
    assert not ev("attribute:gpu =~ .*")
    assert ev("attribute:gpu !~ .*")
    assert not ev("attribute:gpu > 1")
    assert not ev("attribute:gpu <= 1")


def test_match_is_anchored_and_accepts_shell_wildcards() -> None:
    assert not ev("attribute:ecs.instance-type =~ t2")  # whole value, not a substring
    assert ev("attribute:ecs.instance-type =~ *.small")  # not a regex: read as a wildcard
    assert ev("attribute:ecs.instance-type =~ '(t2|m5)\\.small'")
    assert not ev("attribute:ecs.instance-type =~ *.large")


# --- subjects -----------------------------------------------------------------------------

def test_instance_id_and_its_alias() -> None:
    assert ev("ec2InstanceId == i-0abc")
    assert ev("instanceId != i-0def")
    assert ev("instanceId =~ i-0.*")
    assert not ev("ec2InstanceId not_in [i-0abc]")


@pytest.mark.parametrize(
    "when",
    ["2018-06-18T22:28:28+00:00", "2018-06-18T22:28:28Z", "2018-06-18T22:28:28", str(int(REGISTERED))],
)
def test_registered_at_date_formats(when: str) -> None:
    assert ev(f"registeredAt == {when}")
    assert ev(f"registeredAt >= {when}")
    assert not ev(f"registeredAt > {when}")
    assert not ev(f"registeredAt < {when}")
    assert ev(f"registeredAt <= {when}")
    assert not ev(f"registeredAt != {when}")


def test_registered_at_by_day() -> None:
    assert ev("registeredAt > 2018-06-18")
    assert ev("registeredAt < 2018-06-19")


def test_running_tasks_count() -> None:
    assert ev("runningTasksCount > 2")
    assert not ev("runningTasksCount < 3")
    assert ev("runningTasksCount <= 3")
    assert ev("runningTasksCount >= 0", running_tasks_count=0)
    assert ev("runningTasksCount != 4")
    assert parse("runningTasksCount == 1").dynamic


def test_task_group_counts_only_live_tasks() -> None:
    assert ev("task:group == service:production")
    assert not ev("task:group == family:batch")  # listed with zero live tasks
    assert ev("task:group != family:batch")
    assert ev("task:group in [service:staging, service:production]")
    assert ev("task:group not_in [service:staging]")
    assert ev("task:group =~ service:.*")
    assert not ev("task:group !~ service:.*")
    assert ev("task:group exists")
    assert ev("task:group !exists", groups=Counter())
    assert parse("task:group == service:x").dynamic
    assert not parse("attribute:x == y").dynamic


def test_agent_connected() -> None:
    assert ev("agentConnected == true")
    assert ev("agentConnected == false", connected=False)
    assert ev("agentConnected != TRUE", connected=False)
    assert ev("agentConnected in [true]")
    assert ev("agentConnected =~ t.*")


# --- boolean structure --------------------------------------------------------------------

def test_and_or_not_and_their_symbols() -> None:
    assert ev("attribute:stack == prod and attribute:cores == 8")
    assert ev("attribute:stack == prod && attribute:cores == 8")
    assert ev("attribute:stack == dev or attribute:cores == 8")
    assert ev("attribute:stack == dev || attribute:cores == 8")
    assert ev("!(attribute:stack == dev)")
    assert ev("not attribute:stack == dev")
    assert ev("not not attribute:stack == prod")


def test_and_binds_tighter_than_or() -> None:
    # true or (false and false) -> true; (true or false) and false would be false
    assert ev("attribute:stack == prod or attribute:stack == dev and attribute:cores == 1")
    assert not ev("(attribute:stack == prod or attribute:stack == dev) and attribute:cores == 1")


def test_quoted_values_keep_spaces_and_escapes() -> None:
    node = small_node(attributes={"team": "data eng", "q": "it's"})
    assert parse('attribute:team == "data eng"').evaluate(node)
    assert parse("attribute:q == 'it\\'s'").evaluate(node)


def test_compiled_is_memoised() -> None:
    assert compiled("attribute:a == b") is compiled("attribute:a == b")


# --- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "column", "fragment"),
    [
        ("", 1, "empty expression"),
        ("   ", 1, "empty expression"),
        ("task and attribute:x == 1", 1, "unknown subject 'task'"),
        ("attribute:x == 1 and and attribute:y == 2", 22, "unexpected token 'and'"),
        ("attribute:x == 1 attribute:y == 2", 18, "unexpected token 'attribute:y'"),
        ("attribute:x = 1", 13, "did you mean '=='"),
        ("attribute:x == ", 16, "unexpected end of expression"),
        ("(attribute:x == 1", 18, "expected ')'"),
        ("attribute:x in a", 16, "expected a list"),
        ("attribute:x in [a b]", 19, "expected ',' or ']'"),
        ("attribute:x in [a,", 19, "unexpected end of expression"),
        ("attribute: == 1", 1, "attribute: needs a name"),
        ("attribute:x == 'abc", 16, "unterminated quoted string"),
        ("attribute:x ! 1", 15, "expected 'in' or 'exists'"),
        ("registeredAt > yesterday", 16, "registeredAt needs a date"),
        ("runningTasksCount < few", 21, "whole number"),
        ("runningTasksCount =~ 1.*", 19, "does not apply to runningTasksCount"),
        ("agentConnected == maybe", 19, "true or false"),
        ("ec2InstanceId exists", 15, "does not apply"),
        ("attribute:x == 1 )", 18, "unexpected token ')'"),
    ],
)
def test_parse_errors_name_the_column(expr: str, column: int, fragment: str) -> None:
    with pytest.raises(CQLError) as info:
        parse(expr)
    assert info.value.position == column
    assert fragment in str(info.value)
    assert str(info.value).endswith(f"at column {column}")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(CQLError, match="nested deeper"):
        parse("(" * 500 + "attribute:x == 1" + ")" * 500)
    with pytest.raises(CQLError, match="nested deeper"):
        parse("not " * 400 + "attribute:x == 1")


def test_overlong_expression_is_refused() -> None:
    with pytest.raises(CQLError, match="longer than"):
        parse("attribute:x == " + "a" * 3000)


@settings(max_examples=300, deadline=None)
@given(hs.text(alphabet=hs.sampled_from(list("attribute:x.=!~<>&|()[],'\" andorinotexists12*-")), max_size=60))
def test_parse_raises_only_cql_errors_on_cql_like_text(text: str) -> None:
    try:
        expr = parse(text)
    except CQLError as e:
        assert 1 <= e.position <= len(text) + 1
    else:
        expr.evaluate(small_node())


@settings(max_examples=200, deadline=None)
@given(hs.text(max_size=80))
def test_parse_raises_only_cql_errors_on_any_text(text: str) -> None:
    with contextlib.suppress(CQLError):
        parse(text).evaluate(small_node())
