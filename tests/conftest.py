"""Fixtures live in tests/fixtures/, one module per real part (etcd, docker, cluster)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytest_plugins = [
    "tests.fixtures.etcd",
    "tests.fixtures.docker",
    "tests.fixtures.cluster",
]
