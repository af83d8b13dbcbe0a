"""validate_placement(): one sentence per mistake, naming the field."""

from __future__ import annotations

from controlplane.scheduler import validate_placement


def test_valid_input_has_no_errors() -> None:
    assert validate_placement(
        [("distinctInstance", ""), ("memberOf", "attribute:ecs.instance-type == t2.small")],
        [("spread", "attribute:ecs.availability-zone"), ("binpack", "memory"), ("spread", "host"),
         ("random", ""), ("binpack", "CPU")],
    ) == []


def test_expression_errors_carry_the_index_and_column() -> None:
    assert validate_placement([("distinctInstance", ""), ("memberOf", "not   and")], []) == [
        "placementConstraints[1].expression: unexpected token 'and', expected a subject such as "
        "attribute:<name> at column 7"
    ]


def test_constraint_shapes() -> None:
    assert validate_placement(
        [("sameHost", ""), ("memberOf", " "), ("distinctInstance", "attribute:x == 1")], []
    ) == [
        "placementConstraints[0].type: unknown constraint 'sameHost' (want distinctInstance or memberOf)",
        "placementConstraints[1].expression: memberOf needs a cluster query expression",
        "placementConstraints[2].expression: distinctInstance takes no expression",
    ]


def test_strategy_shapes() -> None:
    assert validate_placement([], [("spread", "instanceId"), ("binpack", "disk"), ("spread", "zone"),
                                   ("pack", "cpu")]) == [
        "placementStrategy[1].field: binpack needs cpu or memory, not 'disk'",
        "placementStrategy[2].field: spread needs instanceId, host or attribute:<name>, not 'zone'",
        "placementStrategy[3].type: unknown strategy 'pack' (want binpack, spread or random)",
    ]


def test_ecs_limits() -> None:
    errors = validate_placement([("distinctInstance", "")] * 11, [("random", "")] * 6)
    assert errors == [
        "placementConstraints: at most 10 constraints, got 11",
        "placementStrategy: at most 5 strategies, got 6",
    ]
