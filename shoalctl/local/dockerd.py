"""A private dockerd for one node, so "dockerd restarts on a node" can be rehearsed for
real without touching the dockerd everything else on the machine shares.

Each instance has its own data root (under the cluster's state dir), exec root, pid file
and socket (under /run, kept short: containerd's socket path must fit in 108 bytes), and
its own Linux bridge for bridge-mode containers, with dockerd's iptables rules off so it
never edits the machine's firewall. Published ports use docker-proxy and land on the
addresses of the namespace dockerd runs in.

Given a network namespace (a lab host's), dockerd runs inside it: its bridge is made there,
its pulls leave from the host's address over the host's link (so a cut link cuts them), and
its published ports listen on the host's address. It enters only the network namespace
(``nsenter --net``), not ``ip netns exec``'s private mount namespace with a fresh /sys, which
would hide the cgroup v1 hierarchies under /sys/fs/cgroup that dockerd needs; its socket
stays a file under /run that the root namespace reaches.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import subprocess
from pathlib import Path

from shoal import logs
from shoalctl.local import procs

log = logging.getLogger(__name__)

RUN_ROOT = Path("/run")
# Link-local like the lab's network (see shoalctl/lab/network.py), one /24 per private dockerd;
# containers on it talk to nothing outside this machine.
_BRIDGE_SUBNETS = ipaddress.ip_network("169.254.0.0/16")
_FIRST_THIRD_OCTET = 150


class DockerdError(RuntimeError):
    """The private dockerd could not start or stop; the message says why."""


class DockerdProcess(procs.Supervised):
    """``DockerdProcess("sd1a2b-n1", base_dir).start()``; ``socket_url`` is what the agent's
    ``--docker-host`` takes. ``stop()`` stops it (containers die with it, as on a real
    host), ``kill()`` crashes it, ``cleanup()`` removes its bridge, mounts and files."""

    def __init__(self, name: str, base_dir: Path, binary: str = "dockerd", netns: str | None = None) -> None:
        if len(name) > 12 or not name.replace("-", "").isalnum():
            raise ValueError(f"dockerd name {name!r}: 1-12 letters, digits or '-' (it names a network interface)")
        self.name = name
        self.base_dir = Path(base_dir)
        self.binary = binary
        self.netns = netns
        self.run_dir = RUN_ROOT / f"shoal-{name}"
        self.bridge = f"sd-{name}"[:15]
        self.log_path = self.base_dir / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.subnet = ""

    @property
    def data_root(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def socket_url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "dockerd.pid"

    def command(self) -> list[str]:
        enter = ["nsenter", f"--net=/run/netns/{self.netns}"] if self.netns else []
        return [
            *enter,
            self.binary,
            f"--data-root={self.data_root}",
            f"--exec-root={self.run_dir / 'exec'}",
            f"--pidfile={self.pidfile}",
            f"--host={self.socket_url}",
            f"--bridge={self.bridge}",
            # Our own bridge and no firewall edits: this dockerd must not disturb the shared one.
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            f"--cgroup-parent=shoal-{self.name}",
        ]

    def start(self, timeout: float = 60) -> None:
        """Creates the bridge if needed, spawns dockerd and returns once it answers; raises
        DockerdError with the log tail if it does not."""
        if self.running:
            raise DockerdError(f"dockerd {self.name} is already running (pid {self.pid})")
        self._ensure_bridge()
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        # A pid file left by a crash makes dockerd refuse to start.
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        self.proc = procs.spawn(self.command(), self.log_path, env=env)
        log.info("started private dockerd", extra=logs.kv(name=self.name, pid=self.pid, socket=self.socket_url))
        try:
            self.until_ready(self._answers, f"dockerd {self.name}", self.socket_url, timeout, interval=0.2,
                             error=DockerdError)
        except DockerdError:
            self.kill()
            raise

    def _answers(self) -> bool:
        import docker

        client = docker.DockerClient(base_url=self.socket_url, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def stop(self, timeout: float = 30) -> str:
        """SIGTERM to dockerd alone, as `systemctl stop docker` does: it stops its
        containers and its containerd, then exits. SIGKILL to the group after ``timeout``."""
        proc = self.proc
        if proc is None:
            return f"dockerd {self.name} was not started"
        if proc.poll() is not None:
            return f"dockerd {self.name} had already exited with code {proc.returncode}"
        send(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
            return f"dockerd {self.name} stopped"
        except subprocess.TimeoutExpired:
            procs.kill_popen(proc)
            return f"dockerd {self.name} killed after ignoring SIGTERM for {timeout}s"

    def kill(self) -> None:
        """SIGKILL: a dockerd crash (its containerd and shims die with its process group)."""
        if self.proc is not None:
            procs.kill_popen(self.proc)

    def restart(self, timeout: float = 60) -> None:
        self.stop()
        self.start(timeout)

    def cleanup(self) -> list[str]:
        """After ``stop``: removes the bridge, unmounts and deletes the data and run dirs.
        Safe to call twice."""
        done: list[str] = []
        if self.running:
            done.append(self.stop())
        for root in (self.run_dir, self.data_root):
            _unmount_under(root)
            if root.exists():
                shutil.rmtree(root, ignore_errors=True)
                done.append(f"removed {root}")
        if self._bridge_exists():
            # A namespace that is gone took its bridge with it.
            subprocess.run([*self._ip(), "link", "del", self.bridge], capture_output=True, check=False)
            done.append(f"removed bridge {self.bridge}")
        return done

    def _ip(self) -> list[str]:
        return ["ip", *(["-n", self.netns] if self.netns else [])]

    def _bridge_exists(self) -> bool:
        if self.netns is None:
            return _link_exists(self.bridge)
        out = subprocess.run([*self._ip(), "link", "show", self.bridge], capture_output=True, check=False)
        return out.returncode == 0

    def _ensure_bridge(self) -> None:
        if self._bridge_exists():
            return
        # In a namespace of its own the bridge's subnet is seen by no one else: any free one.
        self.subnet = _free_subnet()
        gateway = str(next(ipaddress.ip_network(self.subnet).hosts()))
        prefix = self.subnet.split("/")[1]
        cmds = [[*self._ip(), "link", "add", self.bridge, "type", "bridge"],
                [*self._ip(), "addr", "add", f"{gateway}/{prefix}", "dev", self.bridge],
                [*self._ip(), "link", "set", self.bridge, "up"]]
        if self.netns:
            # Containers reach the rest of the lab (control plane, registry, other hosts) as
            # the host itself: dockerd's own masquerading is off with its iptables rules.
            ns = ["ip", "netns", "exec", self.netns]
            cmds += [[*ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"],
                     [*ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", self.subnet, "!", "-o", self.bridge,
                      "-j", "MASQUERADE"]]
        for cmd in cmds:
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise DockerdError(f"`{' '.join(cmd)}` failed: {out.stderr.strip()} (needs root)")

    def __repr__(self) -> str:
        return f"DockerdProcess(name={self.name!r}, socket={self.socket_url}, pid={self.pid}, netns={self.netns})"


def _link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def _routes() -> str:
    return subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False).stdout


def _free_subnet() -> str:
    used = _routes()
    for third in range(_FIRST_THIRD_OCTET, 200):
        if third == 170:  # 169.254.170.2 is where agents serve task credentials (ECS's address)
            continue
        candidate = f"169.254.{third}.0/24"
        if f"169.254.{third}.0/24" not in used:
            return candidate
    raise DockerdError("no free 169.254.X.0/24 subnet for a private dockerd bridge")


def _unmount_under(root: Path) -> None:
    """dockerd bind-mounts its data root and leaves overlay and netns mounts behind when
    killed; they keep the directory busy until unmounted (deepest first)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(root)
    targets = sorted({m.split()[1] for m in mounts if len(m.split()) > 1 and
                      (m.split()[1] == prefix or m.split()[1].startswith(prefix + "/"))},
                     key=len, reverse=True)
    for target in targets:
        subprocess.run(["umount", "-l", target], capture_output=True, check=False)


def send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
