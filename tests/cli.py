"""The ``shoal`` CLI as a user runs it against a test cluster: a real process, told by the
config.json in the cluster's state dir where the cluster is and how to authenticate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli_env(cluster) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SHOAL_STATE_DIR": str(cluster.state_dir),
            "SHOAL_ENDPOINT": cluster.endpoint}


def shoal(cluster, *args: str, env: dict[str, str] | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``shoal ARGS`` against ``cluster``, with ``env`` over its environment."""
    return subprocess.run([sys.executable, "-m", "shoalctl", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**cli_env(cluster), **(env or {})})


def ok(cluster, *args: str) -> str:
    """``shoal ARGS``'s output; fails the test, with the CLI's stderr, when it fails."""
    out = shoal(cluster, *args)
    assert out.returncode == 0, f"shoal {' '.join(args)}: {out.stderr}"
    return out.stdout


def viewer(cluster, name: str, out: Path, *grant: str) -> dict[str, str]:
    """Creates the viewer ``name`` (``grant``: e.g. "--grant", "logs") with its credentials
    under ``out``; returns the environment that has the CLI act as that viewer."""
    made = shoal(cluster, "user", "create", name, "--role", "viewer", *grant, "--out", str(out / name))
    assert made.returncode == 0, made.stderr
    d = out / name
    return {"SHOAL_CA": str(d / "ca.crt"), "SHOAL_CERT": str(d / f"{name}.crt"), "SHOAL_KEY": str(d / f"{name}.key")}
