"""The local side of `shoal exec -i/-t`: this process's stdin, read in a thread of its own,
becomes the call's ExecInput messages (after the request); with a terminal, the local one is
put in raw mode while attached (keys, Ctrl-C included, go to the command) and restored on
exit, and its size is sent at the start and on every SIGWINCH."""

from __future__ import annotations

import fcntl
import os
import queue
import signal
import struct
import termios
import threading
import tty as ttymod
from collections.abc import Iterator
from types import FrameType

from shoal.v1 import logs_pb2

# One read of stdin; the control plane takes at most 64 KiB an input message.
READ_SIZE = 32 * 1024
# How often a waiting input stream checks that its session is still open.
_POLL = 0.5
_END = object()


def terminal_size(fd: int) -> logs_pb2.TerminalSize | None:
    """The size of the terminal on ``fd``; None when it has none."""
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return None
    return logs_pb2.TerminalSize(rows=rows, cols=cols) if rows and cols else None


class Session:
    """Used as a context manager around the call: the terminal is raw and the input flows only
    inside it."""

    def __init__(self, fd: int, *, interactive: bool, tty: bool) -> None:
        self.fd = fd
        self.interactive = interactive
        self.tty = tty
        self.size: logs_pb2.TerminalSize | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._saved: list | None = None
        self._old_winch: object = None
        self._closed = threading.Event()

    def __enter__(self) -> Session:
        if self.tty:
            self.size = terminal_size(self.fd)
            self._saved = termios.tcgetattr(self.fd)
            ttymod.setraw(self.fd, termios.TCSANOW)
            if threading.current_thread() is threading.main_thread():
                self._old_winch = signal.signal(signal.SIGWINCH, self._on_winch)
        if self.interactive:
            threading.Thread(target=self._read_stdin, name="exec-stdin", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._queue.put(_END)
        if self._old_winch is not None:
            signal.signal(signal.SIGWINCH, self._old_winch)  # type: ignore[arg-type]
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def inputs(self, start: logs_pb2.ExecuteCommandRequest) -> Iterator[logs_pb2.ExecInput]:
        """The call's messages: the request, then input as it comes, until the session ends
        (or stdin ends, without a terminal whose resizes may still come)."""
        yield logs_pb2.ExecInput(start=start)
        while not self._closed.is_set():
            try:
                item = self._queue.get(timeout=_POLL)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item
            if item.WhichOneof("body") == "stdin_eof" and not self.tty:
                return

    def _read_stdin(self) -> None:
        while not self._closed.is_set():
            try:
                data = os.read(self.fd, READ_SIZE)
            except OSError:
                data = b""  # a pty whose other side closed reads as an error: its end
            if not data:
                self._queue.put(logs_pb2.ExecInput(stdin_eof=True))
                return
            self._queue.put(logs_pb2.ExecInput(stdin=data))

    def _on_winch(self, _signum: int, _frame: FrameType | None) -> None:
        size = terminal_size(self.fd)
        if size is not None:
            self._queue.put(logs_pb2.ExecInput(resize=size))
