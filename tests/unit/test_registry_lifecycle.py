"""Lifecycle policies in ECR's JSON format: the errors name the field, and the images each
policy expires (ECR's rules: first matching rule by priority judges an image)."""

from __future__ import annotations

import json
import re

import pytest

from controlplane.registry.lifecycle import DAY, Candidate, PolicyError, expired, parse

NOW = 1_800_000_000.0


def rule(priority: int = 1, **selection) -> dict:
    sel = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1, **selection}
    return {"rulePriority": priority, "selection": sel, "action": {"type": "expire"}}


def policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)})


@pytest.mark.parametrize(("text", "field"), [
    ("not json", "lifecyclePolicyText: not JSON"),
    (json.dumps({"rules": [], "extra": 1}), "lifecyclePolicyText.extra: unknown field"),
    (json.dumps({"rules": []}), "rules: required"),
    (policy({**rule(), "color": "red"}), "rules[0].color: unknown field"),
    (policy(rule(countNumber=-1)), "rules[0].selection.countNumber: want an integer of at least 1"),
    (policy(rule(countNumber=0)), "rules[0].selection.countNumber"),
    (policy(rule(countNumber="3")), "rules[0].selection.countNumber"),
    (policy(rule(countNumber=True)), "rules[0].selection.countNumber"),
    (policy(rule(tagPatternList=["a*"])), "rules[0].selection.tagPatternList: unknown field"),
    (policy(rule(tagStatus="some")), "rules[0].selection.tagStatus"),
    (policy(rule(tagStatus="tagged")), "rules[0].selection.tagPrefixList: required"),
    (policy(rule(tagStatus="untagged", tagPrefixList=["v"])), "rules[0].selection.tagPrefixList: only with"),
    (policy(rule(countType="sinceImagePushed")), "rules[0].selection.countUnit: want \"days\""),
    (policy(rule(countUnit="days")), "rules[0].selection.countUnit: only with countType sinceImagePushed"),
    (policy(rule(countType="imageCountLessThan")), "rules[0].selection.countType"),
    (policy({**rule(), "action": {"type": "archive"}}), "rules[0].action.type"),
    (policy({k: v for k, v in rule().items() if k != "selection"}), "rules[0].selection: required"),
    (policy(rule(0)), "rules[0].rulePriority: want an integer of at least 1"),
    (policy(rule(1, tagStatus="untagged"), rule(1, tagStatus="untagged")),
     "rules[1].rulePriority: 1 is also rules[0]'s"),
    (policy(rule(1), rule(2, tagStatus="untagged")), "rules[0].rulePriority: a rule with tagStatus any"),
])
def test_bad_policies_name_the_field(text: str, field: str) -> None:
    with pytest.raises(PolicyError, match=re.escape(field)):
        parse(text)


def image(digest: str, *tags: str, age_days: float) -> Candidate:
    return Candidate(digest, tags, NOW - age_days * DAY)


def test_count_rule_keeps_the_newest_of_its_images_only() -> None:
    images = [image("a", "prod-1", age_days=5), image("b", "prod-2", age_days=3), image("c", "prod-3", age_days=1),
              image("d", "dev-1", age_days=9), image("u", age_days=20)]
    rules = parse(policy(rule(1, tagStatus="tagged", tagPrefixList=["prod"], countNumber=2)))
    assert [i.digest for i in expired(rules, images, NOW)] == ["a"]


def test_age_rule_and_first_matching_rule_wins() -> None:
    images = [image("old-untagged", age_days=10), image("new-untagged", age_days=1),
              image("old-release", "v1", age_days=30), image("old-dev", "dev", age_days=30),
              Candidate("unknown-time", (), 0)]
    rules = parse(policy(
        rule(1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=7),
        # v-tagged images: keep 5; a later "any" rule cannot expire them.
        rule(2, tagStatus="tagged", tagPrefixList=["v"], countNumber=5),
        rule(3, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=14)))
    assert sorted(i.digest for i in expired(rules, images, NOW)) == ["old-dev", "old-untagged"]


def test_an_image_with_no_push_time_counts_as_oldest() -> None:
    images = [Candidate("x", ("v1",), 0), image("y", "v2", age_days=2)]
    assert [i.digest for i in expired(parse(policy(rule(countNumber=1))), images, NOW)] == ["x"]
