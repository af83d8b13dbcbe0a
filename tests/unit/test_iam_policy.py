"""The policy grammar and its evaluator: what IAM accepts and refuses (naming the field),
explicit Deny over Allow, default deny, wildcards in actions and resources."""

from __future__ import annotations

import json

import pytest

from controlplane.iam.policy import PolicyError, allows, matches, parse

KNOWN = ["ecs:ListServices", "ecs:DescribeServices", "ecs:CreateService", "ecs:DeleteService",
         "ecr:GetAuthorizationToken", "shoal:GetSecret"]
CLUSTER = "arn:aws:ecs:local:000000000000:cluster/prod"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def policy(*statements: dict):
    return parse(doc(*statements), KNOWN)


def test_allow_admits_and_anything_else_is_denied_by_default() -> None:
    p = policy({"Effect": "Allow", "Action": "ecs:ListServices", "Resource": "*"})
    assert allows(p, "ecs:ListServices", CLUSTER)
    assert not allows(p, "ecs:CreateService", CLUSTER)


def test_explicit_deny_wins_over_any_allow_in_any_order() -> None:
    allow = {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}
    deny = {"Effect": "Deny", "Action": "ecs:Delete*", "Resource": CLUSTER}
    for order in ((allow, deny), (deny, allow)):
        p = policy(*order)
        assert allows(p, "ecs:DescribeServices", CLUSTER)
        assert not allows(p, "ecs:DeleteService", CLUSTER)
        # The deny names one cluster's ARN: another cluster is still allowed.
        assert allows(p, "ecs:DeleteService", CLUSTER.replace("prod", "dev"))


def test_wildcards_star_and_question_mark() -> None:
    p = policy({"Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List?ervices"],
                "Resource": "arn:aws:ecs:*:*:cluster/pro?"})
    assert allows(p, "ecs:DescribeServices", CLUSTER)
    assert allows(p, "ecs:ListServices", CLUSTER)
    assert not allows(p, "ecs:ListServices", CLUSTER + "d")
    assert not allows(p, "ecs:CreateService", CLUSTER)
    assert matches("ecs:listservices", "ecs:ListServices", case_sensitive=False)
    assert not matches("arn:aws:ecs:*:*:cluster/Prod", CLUSTER)  # resources keep their case


def test_not_action_allows_everything_but_what_it_names() -> None:
    p = policy({"Effect": "Allow", "NotAction": "ecs:Create*", "Resource": "*"})
    assert allows(p, "ecs:ListServices", CLUSTER)
    assert allows(p, "shoal:GetSecret", "arn:aws:shoal:local:000000000000:secret:db")
    assert not allows(p, "ecs:CreateService", CLUSTER)


def test_secrets_by_name() -> None:
    p = policy({"Effect": "Allow", "Action": "shoal:GetSecret", "Resource": "arn:aws:shoal:*:*:secret:db-*"})
    assert allows(p, "shoal:GetSecret", "arn:aws:shoal:local:000000000000:secret:db-password")
    assert not allows(p, "shoal:GetSecret", "arn:aws:shoal:local:000000000000:secret:api-key")


def test_a_single_statement_object_is_accepted() -> None:
    text = json.dumps({"Version": "2012-10-17",
                       "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})
    assert allows(parse(text, KNOWN), "ecs:DeleteService", CLUSTER)


@pytest.mark.parametrize(("document", "field"), [
    ("not json", "PolicyDocument"),
    ("[]", "PolicyDocument"),
    (json.dumps({"Version": "2020-01-01", "Statement": []}), "Version"),
    (json.dumps({"Version": "2012-10-17", "Statement": []}), "Statement"),
    (json.dumps({"Version": "2012-10-17", "Statement": [], "Extra": 1}), "Extra"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "allow", "Action": "*", "Resource": "*"}),
     "Statement[1].Effect"),
    (doc({"Effect": "Allow", "Action": "ecs:NoSuchThing", "Resource": "*"}), "Statement[0].Action[0]"),
    (doc({"Effect": "Allow", "Action": ["ecs:ListServices", "s3:GetObject"], "Resource": "*"}),
     "Statement[0].Action[1]"),
    (doc({"Effect": "Allow", "Action": "ListServices", "Resource": "*"}), "Statement[0].Action[0]"),
    (doc({"Effect": "Allow", "Action": "ecs:Zz*", "Resource": "*"}), "Statement[0].Action[0]"),
    (doc({"Effect": "Allow", "Action": [], "Resource": "*"}), "Statement[0].Action"),
    (doc({"Effect": "Allow", "Action": "*", "NotAction": "*", "Resource": "*"}), "Statement[0].Action"),
    (doc({"Effect": "Allow", "Resource": "*"}), "Statement[0].Action"),
    (doc({"Effect": "Allow", "Action": "*"}), "Statement[0].Resource"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "cluster/prod"}), "Statement[0].Resource[0]"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": ["*", 5]}), "Statement[0].Resource"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}), "Statement[0].Condition"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Bogus": 1}), "Statement[0].Bogus"),
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*", "Sid": "has space"}), "Statement[0].Sid"),
    (doc("nope"), "Statement[0]"),
])
def test_malformed_documents_name_the_field(document: str, field: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse(document, KNOWN)
    assert str(err.value).startswith(field + ":"), str(err.value)


def test_oversized_document_is_refused() -> None:
    big = doc(*[{"Effect": "Allow", "Action": "ecs:ListServices", "Resource": CLUSTER}] * 200)
    with pytest.raises(PolicyError, match="PolicyDocument: at most"):
        parse(big, KNOWN)
