"""The autoscaler's --rate-window goes through the one duration parser and reaches PromQL in
whole seconds."""

from __future__ import annotations

import pytest

from autoscaler.main import parser


@pytest.mark.parametrize(("flag", "window"), [("1m", "60s"), ("15s", "15s"), ("30", "30s"), ("1.5m", "90s")])
def test_rate_window_is_any_duration_in_whole_seconds(flag: str, window: str) -> None:
    assert parser().parse_args(["--rate-window", flag]).rate_window == window


def test_the_default_rate_window_is_a_minute() -> None:
    assert parser().parse_args([]).rate_window == "60s"


@pytest.mark.parametrize("flag", ["3x", "500ms", "0", "1.5s", ""])
def test_a_bad_rate_window_is_refused_naming_the_flag(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--rate-window", flag])
    assert exc.value.code == 2
    assert "--rate-window" in capsys.readouterr().err
