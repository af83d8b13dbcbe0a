"""The replica's gRPC server: one ``grpc.aio`` server on an event loop in a thread of its own.

The agents' streams are asynchronous handlers on that loop, so 1,000 connected agents cost
one thread instead of two each; every other service stays synchronous and runs unchanged in
the server's thread pool behind ``SyncHandlers``. With gRPC's synchronous
server, every API call and agent message passed one polling thread that had to win the
interpreter from thousands of stream threads: an API call waited there 100-200 ms during a
1,000-node rollout while its handler took 3 ms.

``LoopServer`` offers the part of ``grpc.Server`` the replica uses (the generated
``add_*Servicer_to_server`` functions, ports, start, stop), called from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent import futures
from typing import Any, NoReturn

import grpc
import grpc.aio

log = logging.getLogger(__name__)


class LoopServer:
    def __init__(self, workers: int, options: Sequence[tuple[str, Any]], maximum_concurrent_rpcs: int,
                 interceptors: Sequence[grpc.aio.ServerInterceptor]) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpc-loop", daemon=True)
        self._thread.start()
        self.pool = futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc")

        async def build() -> grpc.aio.Server:
            return grpc.aio.server(options=list(options), maximum_concurrent_rpcs=maximum_concurrent_rpcs,
                                   interceptors=[*interceptors, SyncHandlers(self.pool)])

        self._server = self._run(build())

    def _run(self, coro: Any, timeout: float | None = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name: str, method_handlers: dict) -> None:
        self._server.add_registered_method_handlers(service_name, method_handlers)

    def add_insecure_port(self, address: str) -> int:
        return self._server.add_insecure_port(address)

    def add_secure_port(self, address: str, credentials: grpc.ServerCredentials) -> int:
        return self._server.add_secure_port(address, credentials)

    def start(self) -> None:
        self._run(self._server.start())

    def stop(self, grace: float, timeout: float) -> None:
        """Stops serving (calls in flight get ``grace`` seconds), then the loop."""
        with contextlib.suppress(futures.TimeoutError):
            self._run(self._server.stop(grace), timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self.pool.shutdown(wait=False, cancel_futures=True)


_CALL: contextvars.ContextVar[SyncCall | None] = contextvars.ContextVar("shoal_sync_call", default=None)


class SyncCall:
    """What a synchronous handler gets as its context: grpc.Server's, over a grpc.aio call.
    grpc.aio's own stand-in (its ``migration_thread_pool``) has neither ``is_active`` nor
    ``cancel`` and never hears that a streaming call's client went away, so a log stream
    would outlive its reader.

    Every status and message of the call is sent from the call's own task (``SyncHandlers``),
    one after another: grpc.aio sends initial metadata with the first message and notes it
    only once that send completes, so a status sent from another task meanwhile carries a
    second copy, which gRPC refuses, and the client never hears the end of its call.
    ``cancel`` only asks; the call's task answers CANCELLED behind the message it is sending.

    One per call (``of``), made on the loop: the Authorizer holds an operator's stream by it
    so that a revocation cancels the call the same way."""

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        self._context = context
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()
        self._cancelling = False
        self._ended = False
        self._callbacks: list[Callable[[], None]] = []
        self._reads: set[futures.Future] = set()
        self._cancelled: asyncio.Future[None] = self._loop.create_future()
        # What to do on the loop when cancelled, besides waking a waiting step (set by SyncHandlers).
        self.on_cancel: Callable[[], None] | None = None
        context.add_done_callback(lambda _context: self.end())

    @classmethod
    def of(cls, context: grpc.aio.ServicerContext) -> SyncCall:
        """The call's SyncCall, made on first use (run on the loop, in the call's task)."""
        call = _CALL.get()
        if call is None or call._context is not context:
            call = cls(context)
            _CALL.set(call)
        return call

    def is_active(self) -> bool:
        return not self._cancelling and not self._ended and not self._context.done()

    def cancel(self) -> None:
        """Ends the call as CANCELLED, from any thread, without waiting: the handler stops
        at its next ``is_active``, and a reply being sent to a client that does not read
        is the last one it gets."""
        with self._lock:
            if self._cancelling or self._ended:
                return
            self._cancelling = True
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if not self._cancelled.done():
            self._cancelled.set_result(None)
        if self.on_cancel is not None:
            self.on_cancel()

    @property
    def cancelling(self) -> bool:
        return self._cancelling

    async def until_cancelled(self, step: asyncio.Future) -> bool:
        """Waits for ``step`` or ``cancel``; True if the call is to end (the step runs on)."""
        if not self._cancelling:
            await asyncio.wait((step, self._cancelled), return_when=asyncio.FIRST_COMPLETED)
        return self._cancelling

    async def end_cancelled(self) -> NoReturn:
        await self._context.abort(grpc.StatusCode.CANCELLED, "cancelled by the server")
        raise AssertionError("abort returned")

    def add_callback(self, callback: Callable[[], None]) -> bool:
        """Runs ``callback`` when the call ends; False (and never) if it already has."""
        with self._lock:
            if self._ended:
                return False
            self._callbacks.append(callback)
            return True

    def end(self) -> None:
        """The call is over: callbacks run, and a handler reading its client stream stops."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            callbacks, self._callbacks = self._callbacks, []
            reads, self._reads = self._reads, set()
        for read in reads:
            read.cancel()
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 (as grpc.Server does: one callback failing stops no other)
                log.exception("a call's end callback failed")

    def read(self, requests: AsyncIterator) -> Any:
        """The client stream's next message, from a handler's thread."""
        read = asyncio.run_coroutine_threadsafe(anext(requests), self._loop)
        with self._lock:
            if self._ended:
                read.cancel()
            else:
                self._reads.add(read)
        try:
            return read.result()
        finally:
            with self._lock:
                self._reads.discard(read)

    def abort(self, code: grpc.StatusCode, details: str) -> NoReturn:
        # Sent from another task, safely: the call's task is waiting for this handler step.
        ended = asyncio.run_coroutine_threadsafe(self._context.abort(code, details), self._loop).exception()
        raise ended if ended is not None else RuntimeError("abort returned")

    def __getattr__(self, name: str) -> Any:
        # peer, auth_context, set_code, set_details, set_trailing_metadata, ...: the same
        # in both APIs, and callable from any thread.
        return getattr(self._context, name)


class _Requests:
    """A client stream as the blocking iterator synchronous handlers read."""

    def __init__(self, requests: AsyncIterator, call: SyncCall) -> None:
        self._requests = requests
        self._call = call

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> Any:
        try:
            return self._call.read(self._requests)
        except StopAsyncIteration:
            raise StopIteration from None
        except (asyncio.CancelledError, futures.CancelledError) as exc:
            raise CallEnded() from exc


class CallEnded(grpc.RpcError):
    """Reading a client stream whose call is over (grpc.Server's iterator raises an RpcError too)."""


_END = object()


def _close(replies: Iterator) -> None:
    close = getattr(replies, "close", None)
    if close is not None:
        close()


class SyncHandlers(grpc.aio.ServerInterceptor):
    """Runs every synchronous handler in ``pool`` behind an asynchronous one, each step of a
    streamed reply too, with the caller's context variables (the identity authz set)."""

    def __init__(self, pool: futures.Executor) -> None:
        self.pool = pool

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        kw = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
        if handler.unary_unary is not None:
            if inspect.iscoroutinefunction(handler.unary_unary):
                return handler
            return grpc.unary_unary_rpc_method_handler(self._unary(handler.unary_unary), **kw)
        if handler.unary_stream is not None:
            if inspect.isasyncgenfunction(handler.unary_stream):
                return handler
            return grpc.unary_stream_rpc_method_handler(self._streamed(handler.unary_stream, False), **kw)
        if handler.stream_unary is not None:
            if inspect.iscoroutinefunction(handler.stream_unary):
                return handler
            return grpc.stream_unary_rpc_method_handler(self._unary(handler.stream_unary, True), **kw)
        if inspect.isasyncgenfunction(handler.stream_stream):
            return handler
        return grpc.stream_stream_rpc_method_handler(self._streamed(handler.stream_stream, True), **kw)

    def _step(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        context = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self.pool, functools.partial(context.run, fn, *args))

    def _call(self, request: Any, context: grpc.aio.ServicerContext, streamed_requests: bool) -> tuple[Any, SyncCall]:
        call = SyncCall.of(context)
        return (_Requests(request, call) if streamed_requests else request), call

    def _unary(self, behavior: Callable[..., Any], streamed_requests: bool = False):
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            request, call = self._call(request, context, streamed_requests)
            step = self._step(behavior, request, call)
            if await call.until_cancelled(step):
                await call.end_cancelled()
            return step.result()

        return handle

    def _streamed(self, behavior: Callable[..., Any], streamed_requests: bool):
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator:
            request, call = self._call(request, context, streamed_requests)
            step = self._step(behavior, request, call)
            replies: Iterator | None = None
            try:
                if await call.until_cancelled(step):
                    await call.end_cancelled()
                replies = iter(step.result())
                while True:
                    step = self._step(next, replies, _END)
                    if await call.until_cancelled(step):
                        await call.end_cancelled()
                    reply = step.result()
                    if reply is _END:
                        return
                    # grpc.aio sends the reply before it asks for the next one: between the
                    # two, nothing of this call is in flight, and a cancel is answered here.
                    # While the send waits for a client that does not read, a cancel closes
                    # the handler at once: it will not be asked for more.
                    call.on_cancel = functools.partial(self._close_after, step, replies)
                    yield reply
                    call.on_cancel = None
                    if call.cancelling:
                        await call.end_cancelled()
            finally:
                call.end()
                self._close_after(step, replies)

        return handle

    def _close_after(self, step: asyncio.Future, replies: Iterator | None) -> None:
        """Closes the handler's generator (its ``finally`` blocks run) in the pool, once the
        step it may still be running is done: a generator cannot be closed while it runs."""
        def close(_step: object = None) -> None:
            if step.cancelled() or step.exception() is not None:  # read, or asyncio logs it as lost
                return
            with contextlib.suppress(RuntimeError):  # the pool is shut down with the server
                self.pool.submit(_close, step.result() if replies is None else replies)

        if step.done():
            close()
        else:
            step.add_done_callback(close)
