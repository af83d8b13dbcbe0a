from controlplane.controllers.service_ops import THROTTLE_AFTER, THROTTLE_BASE, launch_delay
from controlplane.state import Record
from shoal.v1 import resources_pb2 as r


def failed(at: float, started: float = 0.0, deployment: str = "d1", code: str = "TaskFailedToStart") -> Record:
    task = r.Task(id=f"t{at}", last_status="STOPPED", stop_code=code, stopped_at=at, started_at=started,
                  deployment_id=deployment)
    return Record(task, 1, f"k{at}")


def test_no_delay_below_the_threshold() -> None:
    tasks = [failed(100.0 + i) for i in range(THROTTLE_AFTER - 1)]
    assert launch_delay(tasks, "d1", 103.0) == 0.0


def test_delay_doubles_with_each_further_failure() -> None:
    tasks = [failed(100.0 + i) for i in range(THROTTLE_AFTER)]
    last = 100.0 + THROTTLE_AFTER - 1
    assert launch_delay(tasks, "d1", last) == THROTTLE_BASE
    tasks.append(failed(last + 1))
    assert launch_delay(tasks, "d1", last + 1) == 2 * THROTTLE_BASE
    assert launch_delay(tasks, "d1", last + 1 + 2 * THROTTLE_BASE) == 0.0


def test_only_quick_failures_of_the_current_deployment_count() -> None:
    tasks = [failed(100.0 + i, deployment="old") for i in range(5)]
    tasks += [failed(200.0 + i, started=100.0) for i in range(5)]  # ran 100 s: not a start failure
    tasks += [failed(300.0 + i, code="UserInitiated") for i in range(5)]
    assert launch_delay(tasks, "d1", 305.0) == 0.0
