"""The autoscaler loop logs what changed, not that nothing did."""

from __future__ import annotations

import logging

import pytest

from autoscaler.api import ApiError
from autoscaler.loop import Loop, TooManyFailures


def loop_saying(sentences: list[str], max_failures: int = 10) -> Loop:
    said = iter(sentences)

    def step() -> str:
        s = next(said)
        if s == "fail":
            raise ApiError("control plane down")
        return s

    return Loop(campaign=lambda: "", is_leader=lambda: True, steps=[("services", step)],
                max_failures=max_failures)


def info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "autoscaler.loop" and r.levelno == logging.INFO]


def test_an_idle_autoscaler_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    loop = loop_saying(["no scalable targets"] * 40)
    with caplog.at_level(logging.DEBUG, logger="autoscaler.loop"):
        for _ in range(40):
            loop.say(loop.run_once())
    assert len(info_lines(caplog)) == 1


def test_readings_drifting_are_not_news_but_decisions_are(caplog: pytest.LogCaptureFixture) -> None:
    loop = loop_saying([
        "web: desired 3, running 3: cpu: metric 41.2 vs target 50 over 3 running: within target",
        "web: desired 3, running 3: cpu: metric 43.0 vs target 50 over 3 running: within target",
        "web: desired 3, running 3: cpu: metric 71.5 vs target 50 over 3 running: scale out to 5",
        "web: desired 5, running 5: cpu: metric 44.9 vs target 50 over 5 running: within target",
    ])
    with caplog.at_level(logging.INFO, logger="autoscaler.loop"):
        for _ in range(4):
            loop.say(loop.run_once())
    lines = info_lines(caplog)
    assert [("within target" in s, "scale out" in s) for s in lines] == [(True, False), (False, True), (True, False)]


def test_failures_in_a_row_end_the_loop() -> None:
    loop = loop_saying(["fail", "fail", "ok", "fail", "fail"], max_failures=2)
    assert "1 in a row" in loop.run_once()
    with pytest.raises(TooManyFailures):
        loop.run_once()
    assert loop.run_once() == "services: ok"
    assert "1 in a row" in loop.run_once()
