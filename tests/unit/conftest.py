"""Unit tests run the API in-process, as a control plane does: with a master key installed,
which every control plane has (--insecure or not), so access keys are sealed at rest."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shoal.security import sealing


@pytest.fixture(autouse=True)
def master_key() -> Iterator[sealing.Sealer]:
    before = sealing.installed()
    sealer = sealing.Sealer(os.urandom(32))
    sealing.install(sealer)
    try:
        yield sealer
    finally:
        sealing.install(before)
