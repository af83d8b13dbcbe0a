"""`shoal lab up --registry` asks the lab for the cluster registry and prints its address;
without the flag the lab has none. The Lab is faked: starting one needs root and a machine."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from shoalctl.cli import lab as labcli
from shoalctl.cli.main import build_parser


class FakeLab:
    made: list[dict] = []

    def __init__(self, state_dir, **kw) -> None:
        FakeLab.made.append(kw)
        net = SimpleNamespace(lab_id="x", bridge="shl-x", gateway="169.254.200.1", prefixlen=24, hosts={})
        self.network = net
        self.dockerds: dict = {}
        self.cluster = SimpleNamespace(logs_dir=state_dir / "logs", endpoint_list="169.254.200.1:1",
                                       etcd_url="http://127.0.0.1:2",
                                       registry_address="169.254.200.1:5000" if kw.get("registry") else None)

    def start(self, timeout: float) -> None:
        pass


@pytest.mark.parametrize(("flags", "wanted"), [(["--registry"], True), ([], False)])
def test_lab_up_registry_flag(monkeypatch, tmp_path, capsys, flags: list[str], wanted: bool) -> None:
    monkeypatch.setattr(labcli.labmod, "Lab", FakeLab)
    monkeypatch.setattr(labcli.os, "geteuid", lambda: 0)
    FakeLab.made.clear()
    args = build_parser().parse_args(["lab", "up", "--hosts", "2", "--state-dir", str(tmp_path), *flags])
    assert args.func(args) == 0
    assert FakeLab.made[0]["registry"] is wanted
    out = capsys.readouterr().out
    assert ("registry: 169.254.200.1:5000" in out) is wanted, out
