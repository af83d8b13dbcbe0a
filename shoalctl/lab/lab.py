"""A lab: a whole local cluster whose agents each run in a host of their own (a network
namespace with its own address, see network.py), optionally with a private dockerd per
host (shoalctl/local/dockerd.py), run inside that host's namespace: a dockerd restart can be
rehearsed for real, and the host's pulls and published ports go over its own link.

The control plane listens on the lab bridge's address, so agents reach it over the lab
network and a cut link is a real partition of the agent from the control plane. etcd
stays on loopback: only the control plane talks to it. A host without a dockerd of its own
runs its containers on the dockerd in the root namespace and forwards its agent's dynamic
host ports there (mesh.py), so the routing mesh reaches a host's tasks at that host's
address, through its link: a partition cuts the agent's control traffic and the mesh's path
to its tasks. A host with its own dockerd needs no forwarding: that dockerd publishes in the
host's namespace, and a partition also cuts its image pulls.

``<state_dir>/lab.json`` records the network and the private dockerds, so `shoal lab
down`, `shoal lab partition` and `shoal chaos` (other processes) can find them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

import psutil

from shoal import logs
from shoalctl.lab import mesh
from shoalctl.lab.network import LabError, LabHost, LabNetwork, sweep
from shoalctl.local import procs, teardown
from shoalctl.local.cluster import AgentProcess, ClusterError, LocalCluster
from shoalctl.local.dockerd import DockerdError, DockerdProcess

log = logging.getLogger(__name__)

LAB_FILE = "lab.json"


def lab_path(state_dir: Path | str) -> Path:
    """``<state_dir>/lab.json``: {"network": LabNetwork.to_json(), "dockerds": {N: {...}}}."""
    return Path(state_dir) / LAB_FILE


class Lab(procs.Started):
    """``Lab(state_dir, hosts=3).start()`` makes the network and starts the cluster;
    ``stop()`` undoes all of it, even after a failed start. ``private_dockerd``: host
    numbers that get a dockerd of their own. ``dns``: each agent runs the node's DNS
    responder on port 53 of its host's address (its own namespace: no port to share).
    Other keywords go to LocalCluster; ``registry=True`` there starts the cluster registry
    on the lab bridge's address, which every host (and each private dockerd) reaches."""

    def __init__(self, state_dir: Path, hosts: int = 3, private_dockerd: tuple[int, ...] | list[int] = (),
                 lab_id: str | None = None, dns: bool = True, **cluster_kw: object) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.dns = dns
        self.network = LabNetwork.plan(hosts, lab_id)
        bad = [n for n in private_dockerd if n not in self.network.hosts]
        if bad:
            raise ValueError(f"private_dockerd: no host {bad[0]} (hosts are 1-{hosts})")
        self.dockerds: dict[int, DockerdProcess] = {
            n: DockerdProcess(f"{self.network.lab_id}-{n}", self.state_dir / "dockerd" / f"h{n}",
                              netns=self.network.hosts[n].netns)
            for n in private_dockerd
        }
        cluster_kw.setdefault("api_port", 0)
        cluster_kw.setdefault("metrics_port", 0)
        self.cluster = LocalCluster(self.state_dir, agents=hosts, host=self.network.gateway,
                                    agent_launch=self._launch, **cluster_kw)  # type: ignore[arg-type]

    @property
    def lab_id(self) -> str:
        return self.network.lab_id

    def start(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        if lab_path(self.state_dir).exists():
            raise ClusterError(f"a lab is already recorded in {self.state_dir}: "
                               f"`shoal lab down --state-dir {self.state_dir}` first")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Recorded before anything exists, so a start that dies half-way can still be undone.
        self._save()
        try:
            self.network.create()
            for dockerd in self.dockerds.values():
                dockerd.start(max(10.0, deadline - time.monotonic()))
                _load_image(dockerd)
                self._save()
            self.cluster.start(timeout=max(10.0, deadline - time.monotonic()))
        except BaseException as exc:
            self.stop()
            if isinstance(exc, ClusterError | KeyboardInterrupt):
                raise
            raise ClusterError(str(exc)) from exc
        log.info("lab up", extra=logs.kv(lab=self.lab_id, hosts=len(self.network.hosts),
                                          endpoint=self.cluster.endpoint_list))

    def stop(self) -> list[str]:
        """Stops the cluster, the private dockerds (their containers die with them) and
        removes the network and lab.json. Safe to call twice."""
        done: list[str] = []
        try:
            done += self.cluster.stop()
        finally:
            for dockerd in self.dockerds.values():
                done += dockerd.cleanup()
            done += self.network.destroy()
            done += sweep(self.lab_id)
            with contextlib.suppress(FileNotFoundError):
                lab_path(self.state_dir).unlink()
        return done

    def _launch(self, agent: AgentProcess) -> tuple[list[str], list[str]]:
        host = self.network.hosts.get(agent.number) or self.network.add_host(agent.number)
        # The node proxy's service-connect listeners too: the host's own address.
        args = ["--address", host.address, "--metrics-address", host.address,
                "--proxy-internal-address", host.address]
        if self.dns:
            # The containers on the machine's dockerd reach it there too (their resolver).
            args += ["--dns", "--dns-address", host.address]
        dockerd = self.dockerds.get(agent.number)
        if dockerd is not None:
            args += ["--docker-host", dockerd.socket_url]
        if agent.dynamic_ports and dockerd is None:
            try:
                mesh.forward_task_ports(host.netns, host.address, self.network.gateway, agent.dynamic_ports)
            except mesh.MeshError as exc:
                raise ClusterError(str(exc)) from exc
        self._save()
        return ["ip", "netns", "exec", host.netns], args

    # ---- faults --------------------------------------------------------------------------

    def partition(self, host: str | int) -> LabHost:
        return self.network.partition(host)

    def heal(self, host: str | int) -> LabHost:
        return self.network.heal(host)

    def restart_docker(self, number: int, down_for: float = 0.0, timeout: float = 60) -> str:
        """Stops host ``number``'s private dockerd (its containers die, as on a real host),
        waits ``down_for`` seconds, starts it again."""
        dockerd = self.dockerds.get(number)
        if dockerd is None:
            raise ClusterError(f"host {number} has no private dockerd (give it in private_dockerd)")
        said = dockerd.stop()
        if down_for > 0:
            time.sleep(down_for)
        dockerd.start(timeout)
        self._save()
        return f"{said}; started again (pid {dockerd.pid})"

    def _save(self) -> None:
        data = {
            "network": self.network.to_json(),
            "dockerds": {str(n): _dockerd_record(d) for n, d in self.dockerds.items()},
        }
        _write_json(lab_path(self.state_dir), data)



# ---- a lab another process started (`shoal lab ...`, `shoal chaos ...`) -----------------

class RecordedLab:
    """What lab.json says: the network, and each private dockerd (name, base dir, pid)."""

    def __init__(self, state_dir: Path | str) -> None:
        self.state_dir = Path(state_dir).resolve()
        path = lab_path(self.state_dir)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClusterError(f"no lab in {self.state_dir} (no {LAB_FILE}); start one with `shoal lab up`") from None
        except (OSError, ValueError) as exc:
            raise ClusterError(f"{path} is unreadable: {exc}") from exc
        self.network = LabNetwork.from_json(data["network"])
        self.dockerds: dict[int, dict] = {int(k): v for k, v in data.get("dockerds", {}).items()}

    def dockerd(self, number: int) -> DockerdProcess:
        rec = self.dockerds.get(number)
        if rec is None:
            raise ClusterError(f"host {number} of this lab has no private dockerd (`shoal lab up --own-dockerd`)")
        return DockerdProcess(rec["name"], Path(rec["base_dir"]), netns=rec.get("netns"))

    def dockerd_process(self, number: int) -> psutil.Process | None:
        rec = self.dockerds.get(number) or {}
        return procs.ProcRecord("dockerd", rec.get("name", ""), int(rec.get("pid") or 0),
                                float(rec.get("create_time") or 0)).process() if rec.get("pid") else None

    def restart_docker(self, number: int, down_for: float = 0.0, timeout: float = 60) -> str:
        """Like Lab.restart_docker, for a dockerd another process started."""
        said = self.stop_docker(number)
        if down_for > 0:
            time.sleep(down_for)
        dockerd = self.dockerd(number)
        dockerd.start(timeout)
        self.dockerds[number] = _dockerd_record(dockerd)
        self._save()
        return f"{said}; started again (pid {dockerd.pid})"

    def stop_docker(self, number: int, timeout: float = 30) -> str:
        proc = self.dockerd_process(number)
        name = self.dockerd(number).name
        if proc is None:
            return f"dockerd {name} was not running"
        # dockerd alone, as `systemctl stop docker` does: it stops its containers first.
        with contextlib.suppress(psutil.Error):
            proc.send_signal(signal.SIGTERM)
        _, alive = psutil.wait_procs([proc], timeout=timeout)
        if alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
            return f"dockerd {name} killed after ignoring SIGTERM for {timeout}s"
        return f"dockerd {name} (pid {proc.pid}) stopped"

    def _save(self) -> None:
        data = {"network": self.network.to_json(), "dockerds": {str(n): d for n, d in self.dockerds.items()}}
        _write_json(lab_path(self.state_dir), data)


def down(state_dir: Path | str, timeout: float = 10) -> list[str]:
    """Stops the lab's processes (as `shoal down` does), its private dockerds, and removes
    its network and lab.json."""
    state_dir = Path(state_dir).resolve()
    lab = RecordedLab(state_dir)
    done: list[str] = []
    try:
        done += teardown.stop_recorded(state_dir, timeout)
    finally:
        for number in sorted(lab.dockerds):
            with contextlib.suppress(ClusterError, DockerdError):
                done.append(lab.stop_docker(number))
            done += lab.dockerd(number).cleanup()
        done += lab.network.destroy()
        done += sweep(lab.network.lab_id)
        with contextlib.suppress(FileNotFoundError):
            lab_path(state_dir).unlink()
    return done


def _dockerd_record(d: DockerdProcess) -> dict:
    rec: dict = {"name": d.name, "base_dir": str(d.base_dir), "socket": d.socket_url, "netns": d.netns,
                 "pid": d.pid or 0, "create_time": 0.0}
    if d.pid:
        with contextlib.suppress(psutil.Error):
            rec["create_time"] = psutil.Process(d.pid).create_time()
    return rec


def _load_image(dockerd: DockerdProcess) -> None:
    """The busybox image the samples and tests run, built in the private dockerd too."""
    import docker

    from shoalctl.images import DEFAULT_TAG, ensure_busybox_image

    client = docker.DockerClient(base_url=dockerd.socket_url, timeout=120)
    try:
        ensure_busybox_image(client, DEFAULT_TAG)
    finally:
        client.close()


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


__all__ = ["Lab", "LabError", "RecordedLab", "down", "lab_path"]
