"""`shoal exec -i/-t` without a container: the agent's bounded input queue (it never makes
the stream's reader wait, and a command that leaves its input unread is ended), the CLI's
side (stdin as ExecInput messages; a pty put in raw mode, restored, its size sent at the
start and on SIGWINCH), and ExecuteInteractive relayed between two replicas to a fake agent
that echoes the input back and exits with the number of bytes it got.
The whole path in a real container: tests/integration/test_exec.py."""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import termios
import threading
from collections.abc import Iterator

import grpc
import pytest

from agent.exec_input import MAX_PIECES, InputQueue
from agent.runtime import TerminalSize
from shoal.v1 import agent_pb2, logs_pb2, logs_pb2_grpc
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.terminal import Session
from tests.unit.test_logs_relay import FakeGateway, two_replicas
from tests.waiting import wait_for


class Recorder:
    def __init__(self, fail_after: int = -1) -> None:
        self.calls: list[tuple[str, object]] = []
        self.fail_after = fail_after

    def write(self, data: bytes) -> None:
        if len(self.calls) == self.fail_after:
            raise BrokenPipeError("the command exited")
        self.calls.append(("write", data))

    def close_stdin(self) -> None:
        self.calls.append(("eof", None))

    def resize(self, size: TerminalSize) -> None:
        self.calls.append(("resize", size))


def chunk(data: bytes = b"", **kw) -> agent_pb2.ExecInputChunk:
    return agent_pb2.ExecInputChunk(request_id="r", data=data, **kw)


def test_input_is_written_in_order_then_stdin_closed() -> None:
    q = InputQueue(limit=100)
    for c in (chunk(rows=40, cols=120), chunk(b"ab"), chunk(b"cd"), chunk(eof=True), chunk(b"late")):
        assert q.put(c)
    target = Recorder()
    assert q.pump(target) == "stdin ended"
    assert target.calls == [("resize", TerminalSize(40, 120)), ("write", b"ab"), ("write", b"cd"), ("eof", None)]


def test_a_command_that_leaves_its_input_unread_overflows_without_waiting() -> None:
    q = InputQueue(limit=10)
    assert q.put(chunk(b"x" * 6))
    assert not q.put(chunk(b"y" * 6)), "over the limit: refused at once, never waiting"
    assert q.overflowed
    assert not q.put(chunk(b"z")), "an overflowed queue takes nothing more"
    assert q.pump(Recorder()) == "the command was ended with input unread"
    # Pieces without bytes (resizes) are bounded too.
    q = InputQueue()
    assert all(q.put(chunk(rows=1, cols=1)) for _ in range(MAX_PIECES))
    assert not q.put(chunk(rows=1, cols=1)) and q.overflowed


def test_the_writer_waits_for_input_and_stops_on_close_or_a_dead_command() -> None:
    q = InputQueue()
    target = Recorder()
    done: list[str] = []
    writer = threading.Thread(target=lambda: done.append(q.pump(target)))
    writer.start()
    q.put(chunk(b"one"))
    wait_for(lambda: target.calls, 10, "the writer to write the first piece")
    q.close()
    writer.join(10)
    assert done == ["closed"] and target.calls == [("write", b"one")]
    q = InputQueue()
    q.put(chunk(b"a"))
    q.put(chunk(b"b"))
    assert q.pump(Recorder(fail_after=1)).startswith("the command stopped taking input")


def test_stdin_becomes_input_messages_after_the_request() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"echo hi\n")
    os.close(write_end)
    start = logs_pb2.ExecuteCommandRequest(task="t1", command=["sh"], interactive=True)
    try:
        with Session(read_end, interactive=True, tty=False) as session:
            sent = list(session.inputs(start))
    finally:
        os.close(read_end)
    assert [m.WhichOneof("body") for m in sent[:1]] == ["start"] and sent[0].start == start
    assert b"".join(m.stdin for m in sent[1:-1]) == b"echo hi\n"
    assert sent[-1].WhichOneof("body") == "stdin_eof"


def test_a_tty_session_is_raw_while_attached_and_restored_after() -> None:
    parent, child = pty.openpty()
    try:
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        before = termios.tcgetattr(child)
        handler = signal.getsignal(signal.SIGWINCH)
        assert before[3] & termios.ECHO and before[3] & termios.ICANON
        with Session(child, interactive=False, tty=True) as session:
            assert (session.size.rows, session.size.cols) == (33, 101)
            raw = termios.tcgetattr(child)
            assert not raw[3] & (termios.ECHO | termios.ICANON | termios.ISIG)
            fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 150, 0, 0))
            signal.raise_signal(signal.SIGWINCH)
            messages = session.inputs(logs_pb2.ExecuteCommandRequest(tty=True))
            assert next(messages).WhichOneof("body") == "start"
            resized = next(messages)
            assert (resized.resize.rows, resized.resize.cols) == (50, 150)
        assert termios.tcgetattr(child) == before
        assert signal.getsignal(signal.SIGWINCH) == handler
    finally:
        os.close(parent)
        os.close(child)


class EchoAgent(FakeGateway):
    """Answers an ExecRequest by echoing its input; on the input's end, exits with the number
    of bytes it got."""

    def __init__(self) -> None:
        super().__init__({"n1"})
        self.requests: list[agent_pb2.ExecRequest] = []
        self.got: dict[str, int] = {}
        self.inputs: list[agent_pb2.ExecInputChunk] = []

    def send(self, node_id: str, msg: agent_pb2.ControlMessage) -> bool:
        body = msg.WhichOneof("body")
        if body == "exec_request":
            self.requests.append(msg.exec_request)
            self.got[msg.exec_request.request_id] = 0
            return True
        if body == "exec_input":
            self.inputs.append(msg.exec_input)
            rid = msg.exec_input.request_id
            if msg.exec_input.data:
                self.got[rid] += len(msg.exec_input.data)
                self.on_log_chunk(node_id, agent_pb2.AgentLogChunk(request_id=rid, data=msg.exec_input.data))
            if msg.exec_input.eof:
                self.on_log_chunk(node_id, agent_pb2.AgentLogChunk(request_id=rid, eof=True, exit_code=self.got[rid]))
            return True
        return super().send(node_id, msg)


@pytest.fixture
def echo() -> Iterator:
    task = r.Task(id="t1", cluster="default", node_id="n1", last_status="RUNNING", desired_status="RUNNING",
                  enable_execute_command=True)
    task.containers.add(name="app")
    yield from two_replicas(EchoAgent(), task)


def test_interactive_input_goes_through_the_relay_and_the_exit_code_comes_back(echo) -> None:
    _, agent, channel = echo
    start = logs_pb2.ExecuteCommandRequest(cluster="default", task="t1", command=["cat"], interactive=True,
                                           tty=True, size=logs_pb2.TerminalSize(rows=24, cols=80))
    messages = [logs_pb2.ExecInput(start=start), logs_pb2.ExecInput(stdin=b"hello "),
                logs_pb2.ExecInput(stdin=b"world"), logs_pb2.ExecInput(stdin_eof=True)]
    out = list(logs_pb2_grpc.LogsStub(channel).ExecuteInteractive(iter(messages), timeout=10))
    assert b"".join(o.data for o in out) == b"hello world"
    assert out[-1].HasField("exit_code") and out[-1].exit_code == 11
    ask = agent.requests[0]
    assert (ask.stdin, ask.tty, ask.rows, ask.cols, list(ask.command)) == (True, True, 24, 80, ["cat"])


def test_bad_interactive_calls_are_refused(echo) -> None:
    _, agent, channel = echo
    stub = logs_pb2_grpc.LogsStub(channel)
    with pytest.raises(grpc.RpcError) as no_start:
        list(stub.ExecuteInteractive(iter([logs_pb2.ExecInput(stdin=b"x")]), timeout=10))
    assert no_start.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "start" in no_start.value.details()
    with pytest.raises(grpc.RpcError) as plain:
        list(stub.ExecuteCommand(logs_pb2.ExecuteCommandRequest(cluster="default", task="t1", command=["cat"],
                                                                interactive=True), timeout=10))
    assert plain.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "ExecuteInteractive" in plain.value.details()
    # A piece of input over the limit, or stdin for a command started without it (-t alone),
    # ends the call rather than reaching the agent.
    start = logs_pb2.ExecuteCommandRequest(cluster="default", task="t1", command=["cat"], interactive=True)
    tty_only = logs_pb2.ExecuteCommandRequest(cluster="default", task="t1", command=["cat"], tty=True)
    for first, bad, words in (
            (start, logs_pb2.ExecInput(stdin=b"x" * (65 * 1024)), "stdin: at most 65536 bytes"),
            (tty_only, logs_pb2.ExecInput(stdin=b"x"), "stdin: the command was started without interactive"),
            (start, logs_pb2.ExecInput(resize=logs_pb2.TerminalSize(rows=3)), "resize: rows and cols"),
            (start, logs_pb2.ExecInput(start=start), "start: only the first message")):
        with pytest.raises(grpc.RpcError) as ended:
            list(stub.ExecuteInteractive(iter([logs_pb2.ExecInput(start=first), bad]), timeout=10))
        assert ended.value.code() == grpc.StatusCode.INVALID_ARGUMENT and words in ended.value.details(), \
            ended.value.details()
    assert all(not c.data for c in agent.inputs), "no refused input reached the agent"
