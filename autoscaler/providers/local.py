"""Nodes as agent processes on this machine: each node is `python -m agent` with its own
state dir, so `shoal up` and the tests can add and remove hosts for real (with the docker
runtime, or the hollow one that only pretends to run containers).

Everything about a node lives in <state_dir>/<name>/: the agent's identity (state/), its
log (agent.log) and its pid file (pid: "<pid> <process start time>", so a reused pid is
never mistaken for our agent). Agents run in their own session and outlive the autoscaler,
as machines would; a restarted autoscaler finds them again from the pid files.

Config: cpu_units, memory_mib, zone, attributes ("k=v,k2=v2"), runtime (docker|hollow),
state_dir, endpoint (default: the autoscaler's), metrics_address, log_level, stop_timeout
(seconds the agent gets to exit on SIGTERM), gc_delay, resync_interval, allow (the agents'
--allow-* flags: what tasks may reach on these nodes; like state_dir and endpoint, only the
autoscaler host's profile sets it, never the API, so a capacity provider cannot widen it).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import psutil

from autoscaler.providers.base import (
    NodeProvider,
    ProviderContext,
    ProviderError,
    ProviderNode,
)
from shoal import logs
from shoal.provider_config import BUILT_IN, attribute_items, check_built_in, int_option, local_policy
from shoal.taskdef import policy
from shoal.validation import check_name

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PROVIDER_ATTRIBUTE = "shoal.capacity-provider"


class LocalNodeProvider(NodeProvider):
    CONFIG_KEYS = BUILT_IN["local"][0]
    # Not state_dir, endpoint or metrics_address: where it writes and what it dials is the host's say.
    API_KEYS = frozenset({
        "cpu_units", "memory_mib", "zone", "attributes", "runtime", "log_level", "stop_timeout", "gc_delay",
        "resync_interval",
    })

    def __init__(self, config: Mapping[str, str], ctx: ProviderContext) -> None:
        super().__init__(config, ctx)
        self.root = Path(self.config.get("state_dir") or ctx.state_dir)
        self.stop_timeout = int_option(self.config, "stop_timeout", 20, 1, 600)
        # Our own children, kept so they are reaped (else a stopped agent lingers as a zombie
        # that psutil still reports as running).
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def check_config(cls, config: Mapping[str, str]) -> None:
        check_built_in("local", config)

    # ---- NodeProvider ---------------------------------------------------------------------

    def non_terminated_nodes(self) -> list[ProviderNode]:
        self._reap()
        out = []
        if not self.root.is_dir():
            return out
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and _alive(d / "pid"):
                out.append(ProviderNode(id=d.name, name=d.name, tags={"log": str(d / "agent.log")}))
        return out

    def create_node(self, name: str) -> ProviderNode:
        check_name(name, "node name", 63)
        node_dir = self.root / name
        if _alive(node_dir / "pid"):
            raise ProviderError(f"local node {name} is already running")
        node_dir.mkdir(parents=True, exist_ok=True)
        argv = self.command(name, node_dir)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        try:
            with open(node_dir / "agent.log", "ab") as out:
                proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise ProviderError(f"cannot start an agent for local node {name}: {exc}") from exc
        self._children[name] = proc
        (node_dir / "pid").write_text(f"{proc.pid} {psutil.Process(proc.pid).create_time()}\n")
        log.info("started local node", extra=logs.kv(node=name, pid=proc.pid, log=node_dir / "agent.log"))
        return ProviderNode(id=name, name=name, state="pending", tags={"log": str(node_dir / "agent.log")})

    def terminate_node(self, node_id: str) -> None:
        node_dir = self.root / node_id
        proc = _process(node_dir / "pid")
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except psutil.TimeoutExpired:
                log.warning("local node ignored SIGTERM; killing it", extra=logs.kv(node=node_id, pid=proc.pid))
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(psutil.TimeoutExpired):
                    proc.wait(10)
            except psutil.NoSuchProcess:
                pass
        self._reap()
        if node_dir.is_dir():
            # Keep the agent's log beside the others for post-mortems; drop its identity so
            # the name can never come back as the old node.
            with contextlib.suppress(OSError):
                shutil.copy(node_dir / "agent.log", self.root / f"{node_id}.terminated.log")
            with contextlib.suppress(OSError):
                shutil.copy(node_dir / "state" / "node.json", self.root / f"{node_id}.terminated.node.json")
            shutil.rmtree(node_dir, ignore_errors=True)
        log.info("terminated local node", extra=logs.kv(node=node_id))

    def close(self) -> None:
        self._reap()

    # ---- helpers --------------------------------------------------------------------------

    def command(self, name: str, node_dir: Path) -> list[str]:
        c = self.config
        argv = [sys.executable, "-m", "agent",
                "--endpoint", c.get("endpoint") or self.ctx.endpoint,
                "--cluster", self.ctx.cluster,
                "--state-dir", str(node_dir / "state"),
                "--name", name,
                "--runtime", c.get("runtime", "docker"),
                "--attribute", f"{PROVIDER_ATTRIBUTE}={self.ctx.capacity_provider}",
                "--instance-type", "local",
                "--metrics-address", c.get("metrics_address", "127.0.0.1"),
                "--stop-timeout", str(min(self.stop_timeout, 30)),
                "--log-level", c.get("log_level", "INFO")]
        for flag, key in (("--cpu-units", "cpu_units"), ("--memory-mib", "memory_mib"), ("--zone", "zone"),
                          ("--gc-delay", "gc_delay"), ("--resync-interval", "resync_interval")):
            if c.get(key):
                argv += [flag, c[key]]
        for item in attribute_items(c.get("attributes", "")):
            argv += ["--attribute", item]
        # Re-rendered from the parsed policy: only --allow-* flags ever reach the agent.
        return argv + policy.to_argv(local_policy(c))

    def _reap(self) -> None:
        for name, proc in list(self._children.items()):
            if proc.poll() is not None:
                del self._children[name]


def _process(pid_file: Path) -> psutil.Process | None:
    """The process the pid file names, if it is still that process and not a zombie."""
    try:
        pid_text, started_text = pid_file.read_text().split()
        proc = psutil.Process(int(pid_text))
        if abs(proc.create_time() - float(started_text)) > 0.01 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (OSError, ValueError, psutil.Error):
        return None


def _alive(pid_file: Path) -> bool:
    return _process(pid_file) is not None



def node_ids(state_dir: Path) -> set[str]:
    """The control-plane node ids of every local node under an autoscaler state dir
    (<state_dir>/<capacity provider>/<node>/state/node.json), terminated ones included:
    their stopped containers may outlive them."""
    out = set()
    root = Path(state_dir)
    for path in [*root.glob("*/*/state/node.json"), *root.glob("*/*.terminated.node.json")]:
        try:
            out.add(str(json.loads(path.read_text())["node_id"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def stop_all(state_dir: Path, stop_timeout: int = 20) -> list[str]:
    """Terminates every running local node under an autoscaler state dir (for `shoal down`
    and test teardown, once the autoscaler itself has stopped). One sentence per node."""
    said = []
    for cp_dir in sorted(p for p in Path(state_dir).glob("*") if p.is_dir()):
        ctx = ProviderContext(capacity_provider=cp_dir.name, cluster="", endpoint="", state_dir=cp_dir)
        provider = LocalNodeProvider({"stop_timeout": str(stop_timeout)}, ctx)
        for node in provider.non_terminated_nodes():
            provider.terminate_node(node.id)
            said.append(f"stopped local node {node.name} of capacity provider {cp_dir.name}")
    return said
