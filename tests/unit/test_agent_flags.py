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


@pytest.mark.parametrize("port", ["-1", "65536"])
def test_a_bad_proxy_metrics_port_is_refused_naming_the_flag(port: str, tmp_path, capsys) -> None:
    code = agent_main.main(["--insecure", "--runtime", "hollow", "--state-dir", str(tmp_path),
                            "--proxy", "--proxy-metrics-port", port])
    assert code == 2
    assert f"--proxy-metrics-port: must be 0-65535, got {port}" in capsys.readouterr().err


def test_the_proxy_binds_its_files_under_the_state_dir_and_containers_reach_it_inside(tmp_path) -> None:
    args = agent_main.parser().parse_args(["--state-dir", str(tmp_path), "--address", "127.0.0.5", "--proxy",
                                           "--proxy-internal-address", "10.9.0.1", "--proxy-metrics-port", "9555"])
    driver = agent_main.make_proxy(args, runtime=None)  # type: ignore[arg-type]
    assert driver.process.config_path == tmp_path / "proxy" / "haproxy.cfg"
    assert (driver.addresses.external, driver.addresses.internal, driver.addresses.metrics_port) == (
        "127.0.0.5", "10.9.0.1", 9555)
