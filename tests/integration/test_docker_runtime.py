"""DockerRuntime against the real dockerd."""

from __future__ import annotations

import threading
import time
import urllib.request
import uuid

import pytest

from agent.docker_runtime import DockerRuntime
from agent.runtime import (
    LABEL_NODE,
    ContainerSpec,
    HealthCheck,
    NotFound,
    PortBinding,
    PullError,
    StartError,
)
from shoal.netutil import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def runtime(docker_client, busybox_image, node_cleanup):
    node = f"rt-{uuid.uuid4().hex[:10]}"
    node_cleanup.add(node)
    rt = DockerRuntime()
    rt.node = node
    yield rt
    rt.close()


def spec(rt, name: str, image: str, command: tuple[str, ...], **kw) -> ContainerSpec:
    return ContainerSpec(name=f"{rt.node}-{name}", image=image, labels={LABEL_NODE: rt.node}, command=command, **kw)


def test_httpd_answers_on_bound_host_port_with_limits_and_health(runtime, busybox_image):
    port = free_port()
    s = spec(runtime, "web", busybox_image,
             ("sh", "-c", "echo hello-shoal > /www/index.html && exec httpd -f -p 8080 -h /www"),
             ports=(PortBinding(8080, "tcp", port, "127.0.0.1"),), cpu_shares=256, memory_mib=64,
             healthcheck=HealthCheck(("CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"), interval=1,
                                     timeout=2, retries=3))
    events: list = []
    cancel = runtime.watch({LABEL_NODE: runtime.node}, events.append)
    try:
        cid = runtime.create(s)
        runtime.start(cid)
        body = wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read(), 30,
                        "httpd answering on its host port")
        assert body == b"hello-shoal\n"
        info = runtime.inspect(cid)
        assert info.state == "running" and info.image == busybox_image
        assert [(p.container_port, p.host_port) for p in info.ports] == [(8080, port)]
        attrs = runtime.api.inspect_container(cid)["HostConfig"]
        assert attrs["CpuShares"] == 256 and attrs["Memory"] == 64 * 1024 * 1024
        wait_for(lambda: runtime.inspect(cid).health == "HEALTHY", 30, "healthy")
        wait_for(lambda: any(e.action == "health_status" for e in events), 10, "health_status event")
        runtime.stop(cid, timeout=1)
        info = runtime.inspect(cid)
        assert info.state == "exited" and info.exit_code is not None
        wait_for(lambda: any(e.action == "die" and e.container_id == cid for e in events), 10, "die event")
        assert runtime.usage(cid) is None
        runtime.remove(cid)
        with pytest.raises(NotFound):
            runtime.inspect(cid)
        assert runtime.list({LABEL_NODE: runtime.node}) == []
    finally:
        cancel()


def test_exit_code_cgroup_usage_and_list_by_label(runtime, busybox_image):
    cid = runtime.create(spec(runtime, "exit", busybox_image, ("sh", "-c", "sleep 0.5; exit 3")))
    runtime.start(cid)
    assert runtime.usage(cid) is not None  # read from cgroup files while running
    wait_for(lambda: runtime.inspect(cid).state == "exited", 30, "container exit")
    assert runtime.inspect(cid).exit_code == 3
    assert [i.id for i in runtime.list({LABEL_NODE: runtime.node})] == [cid]


def test_pull_failure_and_start_failure_are_ours(runtime, busybox_image):
    assert not runtime.image_present("shoal/nope:1")
    with pytest.raises(PullError) as exc:
        runtime.pull("shoal/nope:1")
    assert str(exc.value)
    with pytest.raises(StartError):
        runtime.create(spec(runtime, "bad", "shoal/nope:1", ("true",)))
    cid = runtime.create(spec(runtime, "noexec", busybox_image, ("/no/such/binary",)))
    with pytest.raises(StartError, match="no/such/binary|no such file"):
        runtime.start(cid)


def test_stop_is_bounded_by_timeout(runtime, busybox_image):
    # A process that ignores SIGTERM is killed after the timeout.
    cid = runtime.create(spec(runtime, "stubborn", busybox_image, ("sh", "-c", "trap '' TERM; sleep 600")))
    runtime.start(cid)
    took: list[float] = []

    def stop() -> None:
        started = time.monotonic()
        runtime.stop(cid, timeout=1)
        took.append(time.monotonic() - started)

    threading.Thread(target=stop, daemon=True).start()
    wait_for(lambda: took, 30, "stop returning after SIGKILL")
    assert runtime.inspect(cid).exit_code == 137
    # The timeout given, not dockerd's default of 10 s.
    assert 0.9 <= took[0] < 8, f"stop with timeout=1 took {took[0]:.1f}s"
