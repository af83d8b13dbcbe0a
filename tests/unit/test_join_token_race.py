"""Nodes joining with one token at the same instant race for its use count: the loser is
told to try again (ABORTED, which joining.join retries), not that its request was invalid."""

from __future__ import annotations

import grpc
import pytest

from controlplane.api.security import _token_error
from shoal.security import tokens
from shoal.store.base import Conflict
from shoal.store.memory import MemoryStore


def test_losing_the_use_count_race_is_aborted_not_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryStore()
    text, _ = tokens.create(store, "ab" * 32, max_uses=100)

    def always_lose(*_args: object, **_kw: object) -> None:
        raise Conflict("another join used the token first")

    monkeypatch.setattr(store, "cas", always_lose)
    with pytest.raises(tokens.TokenError) as raised:
        tokens.consume(store, tokens.parse(text))
    assert raised.value.reason == "conflict"
    assert _token_error(raised.value).code == grpc.StatusCode.ABORTED
