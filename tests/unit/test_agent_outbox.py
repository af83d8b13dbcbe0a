"""The agent's outgoing stream puts what keeps the node known before container output: task
state changes never wait behind log chunks, and log chunks are bounded per request and in
total, a request that cannot be sent in time being ended with a reason. First the outbox on
its own, then a whole agent on a slow in-process gRPC link."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent.hollow import HollowRuntime
from agent.outbox import CLOSED, PER_REQUEST, TOTAL, Limit, Outbox, Refused
from agent.requests import MAX_CHUNK
from agent.runtime import LogStream
from shoal.v1 import agent_pb2
from tests.fakegateway import FakeGateway, assignment
from tests.unit.test_agent_stream import Node
from tests.waiting import wait_for


def state(task_id: str, status: str = "RUNNING") -> agent_pb2.AgentMessage:
    return agent_pb2.AgentMessage(task_state=agent_pb2.TaskStateChange(task_id=task_id, last_status=status))


def drain(outbox: Outbox) -> list[agent_pb2.AgentMessage]:
    out = []
    while (item := outbox.take(timeout=0)) is not None and item is not CLOSED:
        out.append(item)
    return out


def describe(msgs: list[agent_pb2.AgentMessage]) -> list[str]:
    def one(m: agent_pb2.AgentMessage) -> str:
        if m.HasField("task_state"):
            return f"state {m.task_state.task_id}"
        c = m.log_chunk
        return f"{c.request_id} " + (c.data.decode() if c.data else "eof" if c.eof else "error")
    return [one(m) for m in msgs]


# ---- the outbox ---------------------------------------------------------------------------

def test_state_changes_go_before_log_chunks_and_each_keeps_its_order() -> None:
    outbox = Outbox()
    outbox.offer("r1", b"a1")
    outbox.offer("r2", b"b1")
    outbox.put(state("t1"))
    outbox.offer("r1", b"a2")
    outbox.finish("r1", agent_pb2.AgentLogChunk(request_id="r1", eof=True))
    outbox.put(state("t2"))
    outbox.offer("r2", b"b2")
    assert describe(drain(outbox)) == ["state t1", "state t2", "r1 a1", "r2 b1", "r1 a2", "r1 eof", "r2 b2"]
    assert outbox.queued() == (0, 0)


def flood(outbox: Outbox, request_id: str, seen: list[tuple[int, int, int, int]]) -> str:
    """Offers chunks of ``request_id`` until refused, noting the lane's size after each;
    returns why it was refused."""
    for n in range(10_000):
        try:
            outbox.offer(request_id, b"%06d" % n + b"x" * 994)
        except Refused as exc:
            return str(exc)
        seen.append(outbox.queued(request_id) + outbox.queued())
    return "never refused"


def test_a_flood_nobody_sends_stays_within_the_limits_and_is_ended_with_a_reason() -> None:
    outbox = Outbox(per_request=Limit(chunks=8, bytes=1 << 20), total=Limit(chunks=1 << 10, bytes=12 * 1024),
                    wait=0.2)
    seen: list[tuple[int, int, int, int]] = []
    why: dict[str, str] = {}
    threads = [threading.Thread(target=lambda r=r: why.__setitem__(r, flood(outbox, r, seen))) for r in ("r1", "r2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert set(why) == {"r1", "r2"}
    for r in ("r1", "r2"):
        assert why[r].startswith("logs: the link to the control plane did not take this output for 0.2s")
    # Per request at most 8 chunks, in total at most 12 KiB (each chunk is just over 1 KiB).
    assert seen and max(s[0] for s in seen) <= 8 and max(s[3] for s in seen) <= 12 * 1024
    assert max(s[2] for s in seen) >= 2  # both floods were in at once
    sent = drain(outbox)
    for r in ("r1", "r2"):
        mine = [m.log_chunk for m in sent if m.log_chunk.request_id == r]
        assert [int(c.data[:6]) for c in mine[:-1]] == list(range(len(mine) - 1)), "in the order offered"
        assert mine[-1].error == why[r] and not mine[-1].data, "ended by a reason, after what it queued"
        # The reader thread's own end after a refusal adds nothing.
        outbox.finish(r, agent_pb2.AgentLogChunk(request_id=r, eof=True))
    assert drain(outbox) == []


def test_a_full_lane_makes_the_reader_wait_for_room_not_fail() -> None:
    outbox = Outbox(per_request=Limit(chunks=4, bytes=1 << 20), wait=30)
    seen: list[tuple[int, int, int, int]] = []
    done = threading.Event()

    def offer_twenty() -> None:
        for n in range(20):
            outbox.offer("r1", b"%d" % n)
            seen.append(outbox.queued("r1") + outbox.queued())
        done.set()

    threading.Thread(target=offer_twenty, daemon=True).start()
    got: list[bytes] = []
    while not done.is_set() or outbox.queued()[0]:
        item = outbox.take(timeout=0.05)
        if item is not None:
            got.append(item.log_chunk.data)
    assert got == [b"%d" % n for n in range(20)]
    assert max(s[0] for s in seen) <= 4


def test_a_dropped_request_frees_its_chunks_and_wakes_its_reader() -> None:
    outbox = Outbox(per_request=Limit(chunks=4, bytes=1 << 20), wait=60)
    outbox.put(state("t1"))
    why: list[str] = []
    threading.Thread(target=lambda: why.append(flood(outbox, "r1", [])), daemon=True).start()
    wait_for(lambda: outbox.queued("r1") == (4, outbox.queued()[1]), 5, "r1's lane full")
    outbox.drop("r1")
    wait_for(lambda: why, 5, "the waiting reader refused")
    assert why == ["the reader went away"]
    assert outbox.queued() == (0, 0)
    outbox.finish("r1", agent_pb2.AgentLogChunk(request_id="r1", eof=True))
    assert describe(drain(outbox)) == ["state t1"]


def test_a_closed_outbox_refuses_and_says_closed() -> None:
    outbox = Outbox(per_request=Limit(chunks=1, bytes=1 << 20), wait=60)
    outbox.offer("r1", b"x")
    why: list[str] = []
    threading.Thread(target=lambda: why.append(flood(outbox, "r1", [])), daemon=True).start()
    outbox.close()
    wait_for(lambda: why, 5, "the waiting reader refused")
    assert why == ["the stream to the control plane ended"]
    outbox.put(state("t1"))
    assert outbox.take(timeout=0) is CLOSED


# ---- a whole agent on a slow link ---------------------------------------------------------

FLOOD = 600  # chunks of 32 KiB: 19 MiB, more than the log lane may hold


class FloodRuntime(HollowRuntime):
    """The hollow runtime, except that every container's output is FLOOD numbered chunks of
    MAX_CHUNK bytes, there at once."""

    def logs(self, container_id: str, *, follow: bool, since: float = 0, tail: int = 0) -> LogStream:
        stop = threading.Event()

        def chunks() -> Iterator[bytes]:
            for n in range(FLOOD):
                if stop.is_set():
                    return
                yield b"%08d" % n * (MAX_CHUNK // 8)

        return LogStream(chunks(), stop.set)


class SlowGateway(FakeGateway):
    """A fake gateway whose reading of the agents' streams the test can hold."""

    def __init__(self) -> None:
        super().__init__(heartbeat_interval=0.2)
        self.reading = threading.Event()
        self.reading.set()

    def Connect(self, request_iterator, context):  # noqa: N802
        def held() -> Iterator[agent_pb2.AgentMessage]:
            for msg in request_iterator:
                self.reading.wait()
                yield msg
        return super().Connect(held(), context)


@pytest.fixture
def gateway() -> Iterator[SlowGateway]:
    gw = SlowGateway()
    gw.start()
    yield gw
    gw.reading.set()
    gw.stop()


def test_a_state_change_overtakes_a_log_flood_on_a_slow_link(gateway, tmp_path, monkeypatch) -> None:
    # Room for the whole test to run with reading held, on a busy machine.
    monkeypatch.setattr("agent.connection.Outbox", lambda: Outbox(wait=120))
    node = Node([gateway.endpoint], str(tmp_path), FloodRuntime()).boot()
    try:
        nid = node.agent.node_id
        wait_for(lambda: gateway.connected(nid), 10, "agent stream")
        gateway.assign(nid, [assignment("t0")])
        wait_for(lambda: (s := gateway.state("t0")) and s.last_status == "RUNNING", 10, "t0 RUNNING")

        peak = [0, 0, 0, 0]
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                if (outbox := node.client.outbox) is not None:
                    for i, v in enumerate(outbox.queued("r1") + outbox.queued()):
                        peak[i] = max(peak[i], v)
                sampling.wait(0.002)  # the sampling period, not a wait for something

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # The link stalls; a log request floods the agent's stream.
        gateway.reading.clear()
        gateway.send(nid, agent_pb2.ControlMessage(log_request=agent_pb2.LogRequest(request_id="r1", task_id="t0")))
        wait_for(lambda: (o := node.client.outbox) and o.queued()[1] > PER_REQUEST.bytes - 2 * MAX_CHUNK,
                 20, "r1's output filling its lane")
        # A task changes state after the flood.
        gateway.assign(nid, [assignment("t0"), assignment("t1")])
        wait_for(lambda: any(c.task_id == "t1" and c.last_status == "RUNNING" for c in node.agent.snapshot()),
                 10, "t1 RUNNING on the node")
        gateway.reading.set()
        wait_for(lambda: any(m.log_chunk.eof for m in gateway.received(nid, "log_chunk")), 60, "the flood's end")
        sampling.set()
        sampler.join(5)

        order = [m for n, m in list(gateway.messages) if n == nid and not m.HasField("heartbeat")]
        t1_running = ("t1", "RUNNING")
        at = next(i for i, m in enumerate(order) if (m.task_state.task_id, m.task_state.last_status) == t1_running)
        chunks = [m.log_chunk for m in order if m.HasField("log_chunk")]
        before = sum(1 for m in order[:at] if m.log_chunk.data)
        # All of the output, in order, then its end: nothing was lost to the stall.
        assert [int(c.data[:8]) for c in chunks[:-1]] == list(range(FLOOD)) and chunks[-1].eof
        # t1's report did not wait for the flood: only what gRPC already held went first.
        assert FLOOD - before > PER_REQUEST.bytes // MAX_CHUNK - 4, f"{before} of {FLOOD} chunks went first"
        # And the lane never held more than its limits.
        assert peak[1] <= PER_REQUEST.bytes and peak[0] <= PER_REQUEST.chunks, peak
        assert peak[3] <= TOTAL.bytes and peak[2] <= TOTAL.chunks, peak
        assert peak[1] > PER_REQUEST.bytes // 2, f"the flood filled the lane: {peak}"
    finally:
        gateway.reading.set()
        node.stop()


def test_on_ready_is_told_of_each_message_and_of_the_close() -> None:
    """What an event-loop sender waits for instead of a thread in take()."""
    outbox = Outbox()
    told: list[int] = []
    outbox.on_ready = lambda: told.append(len(told))
    outbox.put(state("t1"))
    assert len(told) == 1
    outbox.offer("r1", b"x")
    assert len(told) == 2
    assert drain(outbox)[0].task_state.task_id == "t1"
    outbox.close()
    assert len(told) == 4  # the take that freed log room, then the close
    assert outbox.take(timeout=0) is CLOSED
