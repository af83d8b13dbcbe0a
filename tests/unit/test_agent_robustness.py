"""Agent robustness that needs no dockerd: the docker event watch resyncs whenever the
stream ends or comes back (a dockerd restart), and a restored task keeps the stop timeout
its containers were created with."""

from __future__ import annotations

import threading

import requests

from agent.docker_runtime import DockerRuntime, info_from_inspect
from agent.runtime import ContainerInfo
from agent.tasks import restored
from tests.waiting import wait_for


class _FakeApi:
    """docker-py's APIClient.events: a clean end, then a refused connection, then a stream
    that stays open."""

    def __init__(self) -> None:
        self.calls = 0
        self.block = threading.Event()

    def events(self, decode: bool, filters: dict):
        self.calls += 1
        if self.calls == 1:
            return iter([{"Action": "die", "id": "c1", "Actor": {"Attributes": {"shoal.node": "n"}}}])
        if self.calls == 2:
            raise requests.exceptions.ConnectionError("dockerd is restarting")
        return self._open()

    def _open(self):
        self.block.wait(10)
        return
        yield


def test_event_watch_resyncs_after_a_clean_end_a_failure_and_the_reconnect() -> None:
    runtime = DockerRuntime.__new__(DockerRuntime)
    runtime.api = _FakeApi()  # type: ignore[assignment]
    seen: list[str] = []
    cancel = runtime.watch({"shoal.node": "n"}, lambda ev: seen.append(ev.action))
    try:
        wait_for(lambda: runtime.api.calls >= 3 and seen.count("resync") >= 3, 10, "three resyncs")
    finally:
        runtime.api.block.set()
        cancel()
    # die, then resync for the stream that ended, for the refused reconnect, and once back.
    assert seen[:4] == ["die", "resync", "resync", "resync"]


def test_restored_task_keeps_its_containers_stop_timeout() -> None:
    attrs = {"Id": "c1", "Name": "/x", "Config": {"Labels": {"shoal.task": "t1", "shoal.container": "web"},
                                                   "Image": "img", "StopTimeout": 2},
             "State": {"Status": "running"}}
    info = info_from_inspect(attrs)
    assert info.stop_timeout == 2
    task = restored("t1", [info], now=0.0, stop_timeout=30)
    assert task.containers["web"].stop_timeout == 2
    bare = ContainerInfo(id="c2", name="y", labels={"shoal.task": "t2"}, state="running")
    assert restored("t2", [bare], now=0.0, stop_timeout=30).containers["y"].stop_timeout == 30
