"""Node provider profiles: a capacity provider written through the API runs only what the
autoscaler host's providers config file names. The cluster scaler drives the real command
provider (real processes); the refused records' commands must never run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoscaler import cluster_scaler as cs
from autoscaler.providers import profiles
from autoscaler.providers.base import ProviderContext
from autoscaler.providers.local import LocalNodeProvider
from shoal.v1 import scaling_pb2 as sc
from shoal.validation import ValidationError
from shoalctl.local import autoscaler as localup
from tests.unit.test_cluster_scaler import Clock, FakeCP
from tests.waiting import wait_for


def capacity_provider(name: str, profile: str, config: dict[str, str] | None = None,
                      min_size: int = 1) -> sc.CapacityProvider:
    return sc.CapacityProvider(name=name, cluster="default", min_size=min_size, max_size=2, target_capacity=100,
                               node_provider=sc.NodeProviderConfig(profile=profile, config=config or {}))


def write_config(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_api_records_cannot_choose_commands_only_the_hosts_profiles_run(tmp_path: Path) -> None:
    allowed, evil = tmp_path / "allowed-ran", tmp_path / "evil-ran"
    config = write_config(tmp_path / "providers.json", {"profiles": {"scripts": {"type": "command", "config": {
        "create": ["sh", "-c", f"touch {allowed}"], "terminate": ["true"]}}}})
    known = profiles.load(config)
    api = FakeCP([
        # What used to be code execution on this host: a command type with its own command.
        capacity_provider("a-command", "command", {"create": f"touch {evil}", "terminate": "true"}),
        # A known profile, its command replaced through the API.
        capacity_provider("b-override", "scripts", {"create": f"touch {evil}"}),
        # The built-in local profile, told where to write through the API.
        capacity_provider("c-local", "local", {"state_dir": str(tmp_path / "elsewhere")}, min_size=0),
        # The profile as the host wrote it: runs.
        capacity_provider("d-scripts", "scripts"),
    ])
    s = cs.ClusterScaler(api, endpoint="127.0.0.1:1", state_dir=tmp_path / "state", clock=Clock(),
                         profiles=known, profiles_source=f"--providers-config {config}")
    try:
        said = s.run_once()
        wait_for(lambda: allowed.exists(), 30, "the host's own profile command to run")
        s.run_once()
    finally:
        s.close()
    assert not evil.exists() and not (tmp_path / "elsewhere").exists()
    assert "a-command: refused: nodeProvider.profile: 'command' is not a profile of this autoscaler" in said
    assert "b-override: refused: nodeProvider.config.create: not settable through the API" in said
    assert "c-local: refused: nodeProvider.config.state_dir" in said
    failed = {a.resource_id: a.status_message for a in api.activities if a.status_code == "Failed"}
    assert set(failed) == {"capacity-provider/a-command", "capacity-provider/b-override", "capacity-provider/c-local"}
    assert "known: local, scripts" in failed["capacity-provider/a-command"]


def test_local_is_built_in_and_takes_data_settings_from_the_api() -> None:
    type_, config = profiles.resolve(profiles.load(None), "local", {"cpu_units": "512", "zone": "a"}, "built-ins")
    assert (type_, config) == ("local", {"cpu_units": "512", "zone": "a"})
    with pytest.raises(ValidationError, match="nodeProvider.config.endpoint"):
        profiles.resolve(profiles.load(None), "local", {"endpoint": "10.0.0.1:7400"}, "built-ins")


@pytest.mark.parametrize("doc,words", [
    ({"profiles": {"x": {"type": "ec2"}}}, "profiles.x.type: 'ec2' is not one of"),
    ({"profiles": {"x": {"type": "command", "config": {"create": "true"}}}}, "nodeProvider.config.terminate"),
    ({"profiles": {"x": {"type": "external", "config": {"class": "no.such.module:Thing"}}}},
     "nodeProvider.config.class: cannot load"),
    ({"profiles": {"x": {"type": "local", "config": {"zone": 3}}}}, "profiles.x.config.zone: must be a string"),
    ({"profile": {}}, "want {\"profiles\""),
])
def test_a_bad_providers_config_is_refused_naming_the_file_and_field(tmp_path: Path, doc: dict, words: str) -> None:
    path = write_config(tmp_path / "p.json", doc)
    with pytest.raises(profiles.ProfilesError) as err:
        profiles.load(path)
    assert str(path) in str(err.value) and words in str(err.value)
    with pytest.raises(profiles.ProfilesError, match="--providers-config .*missing.json"):
        profiles.load(tmp_path / "missing.json")


def test_local_nodes_get_the_clusters_policy_and_the_api_cannot_widen_it(tmp_path: Path) -> None:
    flags = ["--allow-host-network", "--allow-host-volumes", "/srv"]
    path = localup.write_profiles(tmp_path, flags)
    known = profiles.load(path)
    ctx = ProviderContext(capacity_provider="cp", cluster="default", endpoint="127.0.0.1:1", state_dir=tmp_path)

    def command(api_config: dict[str, str], profiles_: dict = known) -> list[str]:
        type_, config = profiles.resolve(profiles_, "local", api_config, "test")
        return LocalNodeProvider(config, ctx).command("n1", tmp_path / "n1")

    argv = command({"zone": "a"})
    assert argv[-3:] == flags, "a node the autoscaler adds enforces the cluster's policy"
    with pytest.raises(ValidationError) as info:
        command({"allow": "--allow-privileged"})
    assert info.value.field == "nodeProvider.config.allow"
    assert not [a for a in command({}, profiles.BUILTIN) if a.startswith("--allow-")], "closed by default"
    assert not [a for a in command({}, profiles.load(localup.write_profiles(tmp_path, []))) if a.startswith("--allow")]


def test_a_profiles_allow_holds_only_policy_flags(tmp_path: Path) -> None:
    for allow, said in ((["--allow-host-volumes", "/etc"], "never mountable"),
                        (["--allow-host-network", "--endpoint", "evil:1"], "'--endpoint': only the --allow-* flags"),
                        (["--allow-host-volumes"], "expected one argument")):
        path = write_config(tmp_path / "p.json", {"profiles": {"local": {"type": "local", "config": {
            "allow": allow}}}})
        with pytest.raises(profiles.ProfilesError) as info:
            profiles.load(path)
        assert "nodeProvider.config.allow" in str(info.value) and said in str(info.value), str(info.value)
