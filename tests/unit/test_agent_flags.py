"""The agent's --endpoint/--join read replicas as every other client does (shoal.endpoints)."""

from __future__ import annotations

import pytest

from agent import main as agent_main


def test_endpoint_lists_replicas_and_brackets_ipv6() -> None:
    assert agent_main._endpoints("cp1:7400, [::1]:7401,") == ["cp1:7400", "[::1]:7401"]


@pytest.mark.parametrize("value", ["", "cp1", "cp1:99999", ":7400"])
def test_a_bad_endpoint_is_a_usage_error_naming_the_flag(value: str) -> None:
    with pytest.raises(agent_main.UsageError, match="^--endpoint: "):
        agent_main._endpoints(value)
