"""Fixtures live in tests/fixtures/, one module per real part (etcd, docker, cluster).

The suite is hermetic to the user running it: nothing a test starts may find the user's own
cluster (`~/.shoal/config.json`, `$SHOAL_ENDPOINT`, credentials in the environment), so the
variables are cleared and the CLI's state directory points into a directory of the run's
own before any test or subprocess starts. Hypothesis runs with a seed printed in the header,
so a failure in CI is reproduced with `bash scripts/test.sh --hypothesis-seed=N`."""

import atexit
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import shoal  # noqa: E402,F401  (before anything loads grpc: it sets gRPC's fork mode)

for _name in [n for n in os.environ if n.startswith("SHOAL_") and n != "SHOAL_LOG_LEVEL"]:
    del os.environ[_name]
os.environ["SHOAL_STATE_DIR"] = tempfile.mkdtemp(prefix="shoal-tests-home-")
atexit.register(shutil.rmtree, os.environ["SHOAL_STATE_DIR"], ignore_errors=True)

pytest_plugins = [
    "tests.fixtures.etcd",
    "tests.fixtures.docker",
    "tests.fixtures.cluster",
    "tests.fixtures.hollow",
    "tests.fixtures.plane",
    "tests.fixtures.hook_server",
    "tests.fixtures.root_logging",
]


def pytest_configure(config) -> None:
    if config.getoption("hypothesis_seed", None) is None:
        config.option.hypothesis_seed = random.randrange(2**32)


def pytest_report_header(config) -> str:
    seed = config.option.hypothesis_seed
    return f"hypothesis seed: {seed} (rerun with --hypothesis-seed={seed})"
