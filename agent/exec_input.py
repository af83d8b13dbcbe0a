"""Input for a command run with `shoal exec -i/-t`: the ExecInputChunks that come down the
agent's stream go to the command through one writer thread per command. The thread that
reads the agent's stream (heartbeats and assignments too) only queues them and never waits:
the queue is bounded, and a command that leaves more than ``LIMIT`` bytes of its input unread
(or ``MAX_PIECES`` pieces) is ended with an error instead of holding the stream or growing
the agent's memory."""

from __future__ import annotations

import logging
import threading
from collections import deque

from agent.runtime import ExecInput, TerminalSize
from shoal.v1 import agent_pb2

log = logging.getLogger(__name__)

# Input waiting for a command that does not read it; beyond this the command is ended.
LIMIT = 1 << 20
# Pieces waiting, whatever their size (resizes carry no bytes).
MAX_PIECES = 4096


class InputQueue:
    """One command's pending input, from the stream's reader to the command's writer thread."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._items: deque[agent_pb2.ExecInputChunk] = deque()
        self._bytes = 0
        self._closed = False
        self.overflowed = False

    def put(self, chunk: agent_pb2.ExecInputChunk) -> bool:
        """Queues ``chunk`` without waiting; False (and the queue closed) when the command left
        more than ``limit`` bytes unread, or once the queue is closed."""
        with self._cond:
            if self._closed:
                return False
            if self._bytes + len(chunk.data) > self.limit or len(self._items) >= MAX_PIECES:
                self.overflowed = True
                self._closed = True
                self._items.clear()
                self._cond.notify_all()
                return False
            self._items.append(chunk)
            self._bytes += len(chunk.data)
            self._cond.notify_all()
            return True

    def take(self) -> agent_pb2.ExecInputChunk | None:
        """The next chunk, waiting for one; None once the queue is closed."""
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            chunk = self._items.popleft()
            self._bytes -= len(chunk.data)
            return chunk

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    def pump(self, target: ExecInput) -> str:
        """Writes the queued input to ``target`` until the queue closes, the input ends or the
        command stops taking it; says why it stopped."""
        while (chunk := self.take()) is not None:
            try:
                if chunk.rows and chunk.cols:
                    target.resize(TerminalSize(chunk.rows, chunk.cols))
                if chunk.data:
                    target.write(chunk.data)
                if chunk.eof:
                    target.close_stdin()
                    return "stdin ended"
            except OSError as exc:
                # The command exited or closed its stdin; its output says how it ended.
                return f"the command stopped taking input: {exc}"
        return "the command was ended with input unread" if self.overflowed else "closed"
