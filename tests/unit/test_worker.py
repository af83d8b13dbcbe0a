import threading
import time

from shoal.worker import Worker


def test_stop_wakes_a_loop_parked_on_its_wake_event_and_waits_for_it_to_end() -> None:
    wake = threading.Event()
    ended = threading.Event()
    worker: Worker

    def run() -> None:
        while not worker.stopping.is_set():
            wake.wait()  # no timeout: only stop()'s wake gets it out
            wake.clear()
        ended.set()

    worker = Worker("parked", run, wake=wake, join_timeout=5)
    worker.start()
    started = time.monotonic()
    worker.stop()
    assert ended.is_set()
    assert time.monotonic() - started < 5


def test_stop_returns_after_join_timeout_when_the_loop_does_not_end() -> None:
    release = threading.Event()
    worker = Worker("stuck", lambda: release.wait(30), join_timeout=0.2)
    worker.start()
    started = time.monotonic()
    worker.stop()
    try:
        assert 0.2 <= time.monotonic() - started < 5
        assert worker.stopping.is_set()
    finally:
        release.set()


def test_the_thread_is_a_daemon_named_after_the_worker() -> None:
    seen: list[threading.Thread] = []
    worker = Worker("named-loop", lambda: seen.append(threading.current_thread()))
    worker.start()
    worker.stop()
    assert seen[0].name == "named-loop"
    assert seen[0].daemon


def test_stop_before_start_does_not_raise_and_leaves_the_loop_stopping() -> None:
    worker = Worker("never", lambda: None)
    worker.stop()
    assert worker.stopping.is_set()
