import gc
import sys

import pytest
from grpc import _common

from controlplane import server
from tests.fixtures.interpreter import interpreter_restored
from tests.fixtures.root_logging import root_logging_restored


def test_the_control_planes_main_run_in_process_leaves_the_interpreter_as_it_found_it() -> None:
    before = (sys.getswitchinterval(), gc.get_threshold(), _common.MAXIMUM_WAIT_TIMEOUT)
    with root_logging_restored(), interpreter_restored():
        # Refused after the tuning, before a replica starts: nothing else is left running.
        with pytest.raises(SystemExit, match="--task-credentials-ttl"):
            server.main(["--task-credentials-ttl", "1"])
        tuned = (sys.getswitchinterval(), gc.get_threshold()[2])
        assert tuned == (pytest.approx(server.SWITCH_INTERVAL), server.FULL_COLLECTION_AFTER), (
            "main() no longer tunes the interpreter: interpreter_restored may be dropped")
    assert (sys.getswitchinterval(), gc.get_threshold(), _common.MAXIMUM_WAIT_TIMEOUT) == before
