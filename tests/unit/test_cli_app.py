"""`shoal app deploy|delete`: bad flags refused before anything is made, and what decides
whether a new task definition revision is needed."""

from __future__ import annotations

import pytest

from shoal.v1 import resources_pb2 as r
from shoalctl.cli import app, main


@pytest.fixture(autouse=True)
def nowhere(monkeypatch, tmp_path) -> None:
    # Nothing listens here: a flag check that let a call through would fail on the connection.
    monkeypatch.setenv("SHOAL_INSECURE", "1")
    monkeypatch.setenv("SHOAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOAL_ENDPOINT", "127.0.0.1:9")


@pytest.mark.parametrize(("flags", "said"), [
    (["--min", "3", "--max", "2"], "--min/--max: need 1 <= min <= max, got 3 and 2"),
    (["--min", "0"], "--min/--max: need 1 <= min <= max, got 0 and 3"),
    (["--listen-port", "70000"], "--listen-port: must be from 1 to 65535, got 70000"),
])
def test_bad_flags_are_refused_naming_the_flag(flags: list[str], said: str, capsys) -> None:
    assert main.main(["app", "deploy", "some/image:1", "--name", "web", *flags]) == 1
    assert capsys.readouterr().err.strip() == f"shoal: {said}"


def test_a_new_revision_only_when_the_container_differs() -> None:
    class Args:
        name, cpu, memory, port = "web", 256, 256, 8080

    doc = app._taskdef(Args, "reg:5000/apps/web:abc")
    td = r.TaskDefinition(family="web", container_definitions=[r.ContainerDefinition(
        name="web", image="reg:5000/apps/web:abc", cpu=256, memory=256,
        port_mappings=[r.PortMapping(container_port=8080)])])
    assert app._same(td, doc)
    for change in ({"image": "reg:5000/apps/web:def"}, {"cpu": 512}, {"memory": 128}):
        other = r.TaskDefinition()
        other.CopyFrom(td)
        for k, v in change.items():
            setattr(other.container_definitions[0], k, v)
        assert not app._same(other, doc), change
    moved = r.TaskDefinition()
    moved.CopyFrom(td)
    moved.container_definitions[0].port_mappings[0].container_port = 80
    assert not app._same(moved, doc)
