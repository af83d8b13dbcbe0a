"""README's list of the ECS operations the gateway serves, checked both ways: every one it
claims is answered by the gateway and exists in botocore's ECS model, every one the gateway
serves is claimed, and the counts it gives are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session

from controlplane.ecs.server import ACTIONS, GUIDANCE_ONLY

README = Path(__file__).resolve().parents[2] / "README.md"
CLAIM = re.compile(r"\*\*ECS operations served: (\d+) of the (\d+) in botocore's ECS model\*\* — ([^.]+)\.")


def test_readme_lists_exactly_the_operations_served() -> None:
    text = " ".join(README.read_text().split())
    found = CLAIM.search(text)
    assert found, "README has no 'ECS operations served: N of M' line"
    count, total, names = int(found[1]), int(found[2]), [n.strip() for n in found[3].split(",")]
    model = set(botocore.session.get_session().get_service_model("ecs").operation_names)
    served = set(ACTIONS) - GUIDANCE_ONLY
    assert sorted(set(names) - model) == [], "README claims operations botocore's model does not have"
    assert sorted(set(names) - served) == [], "README claims operations the gateway does not serve"
    assert sorted(served - set(names)) == [], "the gateway serves operations README does not list"
    assert (count, total) == (len(names), len(model)) == (len(served), len(model))
