"""`shoal exec` against a whole local cluster: a command run in a real busybox container
through its node's agent, its output and exit code back through the CLI; refused for a task
without enableExecuteCommand (ECS's words), a stopped task, a viewer (unless granted exec);
each exec a service event naming who ran what; with -i, stdin piped to the command; with
-t, a shell on a terminal driven through a pty, the local terminal restored after.
(ECS's ExecuteCommand answer: tests/unit/test_exec_api.py; the input framing:
tests/unit/test_exec_input.py.)"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

from shoal.v1 import operator_pb2 as op
from tests.cli import ROOT, cli_env, shoal, viewer
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

SLEEPER = {
    "family": "sleeper",
    "containerDefinitions": [{
        "name": "main", "image": "shoal/busybox:latest", "memory": 16, "cpu": 16, "stopTimeout": 1,
        "command": ["sh", "-c", "echo hello > /tmp/greeting; exec sleep 100000"],
    }],
}


@pytest.fixture
def cluster(make_cluster, busybox_image):
    return make_cluster(agents=1, zones=["a"])


def _running(api, task_id: str) -> bool:
    return api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].last_status \
        == "RUNNING"


def _service_task(api) -> str:
    arns = api.ListTasks(op.ListTasksRequest(cluster="default", service_name="web", desired_status="RUNNING")).arns
    tasks = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=list(arns))).tasks if arns else []
    running = [t.id for t in tasks if t.last_status == "RUNNING"]
    return running[0] if running else ""


def test_exec_runs_in_the_container_and_every_door_is_tried(cluster, tmp_path: Path) -> None:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="sleeper",
                                              desired_count=1, enable_execute_command=True))
    task_id = wait_for(lambda: _service_task(api), 90, "the service's task RUNNING")

    ran = shoal(cluster, "exec", task_id, "--", "cat", "/tmp/greeting")
    assert (ran.returncode, ran.stdout) == (0, "hello\n"), ran.stderr
    # The exit code and both output streams come back.
    ran = shoal(cluster, "exec", task_id, "--container", "main", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert ran.returncode == 3 and sorted(ran.stdout.split()) == ["err", "out"], ran.stderr
    missing = shoal(cluster, "exec", task_id, "--", "/no/such/binary")
    assert missing.returncode != 0
    events = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0].events
    audit = [e.message for e in events if "(exec " in e.message]
    assert any("shoal:admin:" in m and "cat /tmp/greeting -> exit code 0" in m for m in audit), audit
    assert any("exit 3 -> exit code 3" in m for m in audit), audit

    bad = shoal(cluster, "exec", task_id, "--container", "nope", "--", "true")
    assert bad.returncode != 0 and "container" in bad.stderr and "nope" in bad.stderr
    assert "command" in shoal(cluster, "exec", task_id).stderr

    # Off on the service: refused with ECS's words.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", enable_execute_command=False))
    off = shoal(cluster, "exec", task_id, "--", "true")
    assert off.returncode != 0 and "execute command was not enabled" in off.stderr, off.stderr

    # A standalone task: only with enableExecuteCommand on RunTask.
    plain = api.RunTask(op.RunTaskRequest(cluster="default", task_definition="sleeper")).tasks[0].id
    wait_for(lambda: _running(api, plain), 90, "the standalone task RUNNING")
    assert "execute command was not enabled" in shoal(cluster, "exec", plain, "--", "true").stderr
    run = shoal(cluster, "task", "run", "--taskdef", "sleeper", "--enable-execute-command", "-o", "json")
    assert run.returncode == 0, run.stderr
    enabled = json.loads(run.stdout)["tasks"][0]["id"]
    wait_for(lambda: _running(api, enabled), 90, "the exec-enabled standalone task RUNNING")
    assert shoal(cluster, "exec", enabled, "--", "true").returncode == 0

    # A stopped task.
    api.StopTask(op.StopTaskRequest(cluster="default", task=enabled))
    stopped = shoal(cluster, "exec", enabled, "--", "true")
    assert stopped.returncode != 0 and "commands run only in a RUNNING task" in stopped.stderr, stopped.stderr

    # Viewers: not even with logs; with exec, yes.
    api.UpdateService(op.UpdateServiceRequest(cluster="default", service="web", enable_execute_command=True))

    reader = shoal(cluster, "exec", task_id, "--", "cat", "/tmp/greeting",
                   env=viewer(cluster, "vic", tmp_path, "--grant", "logs"))
    assert reader.returncode != 0 and "'exec' permission" in reader.stderr and "hello" not in reader.stdout
    ran = shoal(cluster, "exec", task_id, "--", "cat", "/tmp/greeting",
                env=viewer(cluster, "opal", tmp_path, "--grant", "exec"))
    assert (ran.returncode, ran.stdout) == (0, "hello\n"), ran.stderr
    events = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0].events
    assert any("shoal:viewer:opal" in e.message and "(exec " in e.message for e in events)


def test_exec_with_stdin_and_a_terminal(cluster) -> None:
    api = cluster.operator
    api.RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=json.dumps(SLEEPER)))
    api.CreateService(op.CreateServiceRequest(cluster="default", service_name="web", task_definition="sleeper",
                                              desired_count=1, enable_execute_command=True))
    task_id = wait_for(lambda: _service_task(api), 90, "the service's task RUNNING")

    def piped(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "shoalctl", "exec", *args], cwd=ROOT, input=stdin,
                              capture_output=True, timeout=60, env=cli_env(cluster))

    # stdin through the control plane and the agent to cat, and its end closes cat's stdin.
    lines = b"".join(b"line %d\n" % i for i in range(2000))  # more than one read and one message
    ran = piped("-i", task_id, "--", "cat", stdin=lines)
    assert (ran.returncode, ran.stdout) == (0, lines), ran.stderr
    # A shell reading commands from stdin; its exit code comes back.
    ran = piped(task_id, "-i", "--", "sh", stdin=b"echo $((6 * 7))\nexit 5\n")
    assert (ran.returncode, ran.stdout) == (5, b"42\n"), ran.stderr
    # Without -i the command's stdin is closed: cat ends at once, the input unread.
    ran = piped(task_id, "--", "cat", stdin=b"unread\n")
    assert (ran.returncode, ran.stdout) == (0, b""), ran.stderr
    # A command that never reads its stdin while the caller writes 8 MiB to it: the agent ends
    # it once 1 MiB waits unread, and the node's stream (its heartbeats) never stalls.
    lost: list[str] = []
    flooding = threading.Event()
    node_id = api.DescribeTasks(op.DescribeTasksRequest(cluster="default", tasks=[task_id])).tasks[0].node_id

    def watch() -> None:
        while not flooding.is_set():
            node = api.DescribeContainerInstances(op.DescribeContainerInstancesRequest(
                cluster="default", container_instances=[node_id])).container_instances[0]
            if not node.agent_connected:
                lost.append(node_id)
            flooding.wait(0.2)  # the sampling period of an observation

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        ran = piped("-i", task_id, "--", "sleep", "100000", stdin=b"x" * (8 << 20))
    finally:
        flooding.set()
        watcher.join(10)
    assert ran.returncode != 0 and b"stdin: the command left more than 1024 KiB of its input unread" in ran.stderr, \
        ran.stderr
    assert not lost, "the node's agent was seen disconnected while its exec's input overflowed"
    assert piped(task_id, "--", "echo", "still", stdin=b"").stdout == b"still\n"

    # A caller that goes away mid-command closes the command's stdin: cat ends, the shell goes on.
    gone = subprocess.Popen([sys.executable, "-m", "shoalctl", "exec", "-i", task_id, "--", "sh", "-c",
                             "cat; echo closed > /tmp/stdin-end"], cwd=ROOT, env=cli_env(cluster),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert gone.stdin is not None and gone.stdout is not None
        gone.stdin.write(b"ping\n")
        gone.stdin.flush()
        assert gone.stdout.readline() == b"ping\n"
    finally:
        gone.kill()
        gone.wait(10)
    wait_for(lambda: piped(task_id, "--", "cat", "/tmp/stdin-end", stdin=b"").stdout == b"closed\n", 60,
             "the command's stdin closed once its caller went away")

    # -t needs a terminal on stdin.
    ran = piped("-t", task_id, "--", "sh", stdin=b"")
    assert ran.returncode != 0 and b"-t: stdin is not a terminal" in ran.stderr

    # -it on a pty: an interactive busybox shell on a terminal of the pty's size.
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    before = termios.tcgetattr(child)
    proc = subprocess.Popen([sys.executable, "-m", "shoalctl", "exec", "-it", task_id, "--", "sh"], cwd=ROOT,
                            stdin=child, stdout=child, stderr=child, env=cli_env(cluster), start_new_session=True)
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                data = os.read(parent, 4096)
            except OSError:
                return
            if not data:
                return
            seen.extend(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: b"# " in seen, 60, "the container's shell prompt")
        # Raw mode locally while attached: the keys go as typed, Enter as \r.
        assert not termios.tcgetattr(child)[3] & termios.ICANON
        os.write(parent, b"tty; stty size; echo sum-$((2 + 3))\r")
        wait_for(lambda: b"sum-5" in seen, 60, "the command's output through the terminal")
        # The window resized: SIGWINCH sends the new size, which the shell's terminal takes.
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 42, 123, 0, 0))
        os.kill(proc.pid, signal.SIGWINCH)

        def resized() -> bool:
            os.write(parent, b"stty size\r")  # asked again until the new size shows
            return b"42 123" in seen

        wait_for(resized, 60, "the new window size in the container's terminal", interval=0.5)
        os.write(parent, b"exit 7\r")
        assert proc.wait(60) == 7, bytes(seen)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = bytes(seen).decode(errors="replace")
    assert "/dev/pts/" in text and "31 97" in text, text
    assert termios.tcgetattr(child) == before, "the local terminal is restored on exit"
    # Audited as any exec, marked with how it took input.
    events = api.DescribeServices(op.DescribeServicesRequest(cluster="default", services=["web"])).services[0].events
    audit = [e.message for e in events if "(exec " in e.message]
    assert any("(-it) sh -> exit code 7" in m and "shoal:admin:" in m for m in audit), audit
    assert any("(-i) cat -> exit code 0" in m for m in audit), audit
    os.close(child)
    os.close(parent)
