"""`shoal logs` and `shoal events` against a whole local cluster: a container's output read
on its node and streamed through the control plane, as it is written; service events
oldest first, and new ones as they happen."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from shoal.v1 import logs_pb2, logs_pb2_grpc
from shoal.v1 import operator_pb2 as op
from tests.cli import cli_env, shoal, viewer
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COUNTER = {
    "family": "counter",
    "containerDefinitions": [{
        "name": "count", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 2,
        "command": ["sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"],
    }],
}


class Streaming:
    """A CLI process whose stdout lines arrive on a queue as it prints them."""

    def __init__(self, cluster, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "shoalctl", *args], cwd=ROOT, env=cli_env(cluster),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def drain(self) -> list[str]:
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def cluster(make_cluster, busybox_image):
    return make_cluster(agents=1, zones=["a"])


@pytest.fixture
def counter_task(cluster) -> str:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(COUNTER)))
    task_id = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="counter")).tasks[0].id
    wait_for(lambda: api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id]))
             .tasks[0].last_status == "RUNNING", 90, "the counter task RUNNING")
    return task_id


@pytest.fixture
def streaming(cluster) -> Iterator[list[Streaming]]:
    made: list[Streaming] = []
    yield made
    for s in made:
        s.stop()


def numbers(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := re.fullmatch(r"line (\d+)", line))]


def test_logs_follow_shows_lines_as_they_are_written(cluster, counter_task, streaming) -> None:
    follow = Streaming(cluster, "logs", counter_task, "--follow")
    streaming.append(follow)
    first = wait_for(lambda: numbers(follow.drain())[:3] if len(numbers(follow.drain())) >= 3 else None, 60,
                     "the first lines")
    assert first == [0, 1, 2], "from the start, in order"
    seen_then = max(numbers(follow.drain()))
    wait_for(lambda: max(numbers(follow.drain())) >= seen_then + 5, 30, "more lines as the container writes them")
    got = numbers(follow.drain())
    assert got == list(range(len(got))), "no line lost or repeated"

    follow.stop()
    agent_log = cluster.agent(1).log_path
    wait_for(lambda: "log stream ended: cancelled" in agent_log.read_text(), 30,
             "the agent to close the docker log stream once the CLI left")


def test_logs_tail_since_and_errors(cluster, counter_task) -> None:
    wait_for(lambda: len(numbers(shoal(cluster, "logs", counter_task).stdout.splitlines())) >= 20, 60,
             "20 lines written")
    tail = shoal(cluster, "logs", counter_task, "--tail", "3")
    assert tail.returncode == 0, tail.stderr
    got = numbers(tail.stdout.splitlines())
    assert len(got) == 3 and got == list(range(got[0], got[0] + 3)) and got[0] >= 17

    since = shoal(cluster, "logs", counter_task, "--since", "1s")
    everything = shoal(cluster, "logs", counter_task)
    recent, total = numbers(since.stdout.splitlines()), numbers(everything.stdout.splitlines())
    assert 0 < len(recent) < len(total) and recent[0] > 0

    missing = shoal(cluster, "logs", "no-such-task")
    assert missing.returncode == 1 and "task:" in missing.stderr and "not found" in missing.stderr
    wrong = shoal(cluster, "logs", counter_task, "--container", "nope")
    assert wrong.returncode == 1 and "container:" in wrong.stderr and "count" in wrong.stderr
    bad = shoal(cluster, "logs", counter_task, "--since", "yesterday")
    assert bad.returncode != 0 and "--since" in bad.stderr


def test_logs_rpc_without_follow_ends_by_itself_and_refuses_a_negative_tail(cluster, counter_task) -> None:
    stub = logs_pb2_grpc.LogsStub(cluster.channel)

    def last_two() -> bytes:
        chunks = stub.GetTaskLogs(logs_pb2.GetTaskLogsRequest(cluster="default", task=counter_task, tail=2),
                                  timeout=30)
        return b"".join(c.data for c in chunks)

    # Without follow the call ends by itself, with at most the lines asked for.
    wait_for(lambda: last_two().count(b"\n") == 2, 30, "two lines from tail=2")
    with pytest.raises(grpc.RpcError) as err:
        list(stub.GetTaskLogs(logs_pb2.GetTaskLogsRequest(cluster="default", task=counter_task, tail=-1),
                              timeout=30))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "tail" in err.value.details()


def test_events_oldest_first_and_follow(cluster, busybox_image, streaming) -> None:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(COUNTER)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="counter",
                                              desired_count=1))

    def steady() -> bool:
        out = shoal(cluster, "events", "--service", "web").stdout
        return "has reached a steady state" in out

    wait_for(steady, 90, "the service to reach a steady state")
    lines = shoal(cluster, "events").stdout.splitlines()
    # time, kind, message
    messages = [re.split(r"\s{2,}", line, maxsplit=2)[2] for line in lines]
    assert messages.index("(service web) has started 1 tasks.") < messages.index(
        "(service web) has reached a steady state."), lines
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", line) for line in lines)

    follow = Streaming(cluster, "events", "--follow", "--service", "web")
    streaming.append(follow)
    wait_for(lambda: any("steady state" in line for line in follow.drain()), 30, "the existing events")
    before = len(follow.drain())
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", desired_count=2))
    wait_for(lambda: any("has started 1 tasks." in line for line in follow.drain()[before:]), 60,
             "the new event printed by --follow")
    printed = follow.drain()
    assert len(printed) == len(set(printed)), "each event printed once"


def test_a_viewer_reads_state_but_streams_logs_only_when_granted(cluster, counter_task, tmp_path: Path) -> None:
    plain, granted = viewer(cluster, "vic", tmp_path), viewer(cluster, "lola", tmp_path, "--grant", "logs")
    listed = shoal(cluster, "task", "list", "-o", "json", env=plain)
    assert listed.returncode == 0 and counter_task in listed.stdout, listed.stderr
    refused = shoal(cluster, "logs", counter_task, "--tail", "2", env=plain)
    assert refused.returncode != 0 and "'logs' permission" in refused.stderr and "line " not in refused.stdout
    secrets = shoal(cluster, "secret", "list", env=plain)
    assert secrets.returncode != 0 and "'secrets' permission" in secrets.stderr, secrets.stderr
    assert shoal(cluster, "whoami", env=granted).stdout.strip() == "shoal:viewer:lola (granted logs)"
    got = wait_for(lambda: (o := shoal(cluster, "logs", counter_task, "--tail", "2", env=granted)).returncode == 0
                   and numbers(o.stdout.splitlines()) and o, 30, "the granted viewer's logs")
    assert len(numbers(got.stdout.splitlines())) == 2
    # Logs are all it was granted.
    assert shoal(cluster, "secret", "list", env=granted).returncode != 0
    made = shoal(cluster, "service", "create", "x", "--taskdef", "counter", "--desired", "1", env=granted)
    assert made.returncode != 0
