"""`shoal lab up|down|status|partition|heal`: N hosts with their own addresses on this
machine (network namespaces on a bridge), each running an agent, plus etcd and the
control plane; then cut and restore their links on purpose. Needs root."""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

from shoalctl.cli.client import state_dir as default_state_dir
from shoalctl.cli.durations import duration_arg
from shoalctl.cli.errors import CliError
from shoalctl.lab import lab as labmod
from shoalctl.lab.network import LabError
from shoalctl.local.cluster import ClusterError
from shoalctl.local.dockerd import DockerdError


def register(sub) -> None:
    p = sub.add_parser("lab", help="hosts with their own addresses on this machine, to fail on purpose")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    up = verbs.add_parser("up", help="make N hosts (network namespaces) and start a cluster across them")
    _state(up)
    up.add_argument("--hosts", type=int, default=3, help="how many hosts, each running one agent (default 3)")
    up.add_argument("--replicas", type=int, default=1, help="control-plane replicas (1-3; default 1)")
    up.add_argument("--etcd-members", type=int, choices=(1, 3, 5), default=1, help="etcd members (default 1)")
    up.add_argument("--own-dockerd", default="", metavar="N[,N...]",
                    help="hosts that get a dockerd of their own (so `shoal chaos stop-docker` can restart it)")
    up.add_argument("--registry", action="store_true",
                    help="also start the cluster registry on the lab bridge (give hosts --own-dockerd to see "
                         "each host's engine pull through it)")
    up.add_argument("--lease-ttl", type=float, default=5.0, help="seconds without heartbeats before a node is lost")
    up.add_argument("--gc-delay", type=float, default=30.0, help="seconds before agents remove stopped containers")
    up.add_argument("--prometheus", action="store_true", help="also run Prometheus (and the autoscaler)")
    up.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the lab to come up")
    up.set_defaults(func=lab_up)

    down = verbs.add_parser("down", help="stop the lab and remove its namespaces, links and bridge")
    _state(down)
    down.set_defaults(func=lab_down)

    status = verbs.add_parser("status", help="the lab's hosts, addresses and links")
    _state(status)
    status.set_defaults(func=lab_status)

    part = verbs.add_parser("partition", help="cut a host's link (its agent loses the control plane)")
    _state(part)
    part.add_argument("host", help="agent-N, N or the host's namespace name")
    part.add_argument("--for", dest="duration", type=duration_arg, metavar="DURATION",
                      help="restore the link after this long (e.g. 30s); default: until `shoal lab heal`")
    part.set_defaults(func=lab_partition)

    heal = verbs.add_parser("heal", help="restore a host's link")
    _state(heal)
    heal.add_argument("host", help="agent-N, N or the host's namespace name")
    heal.set_defaults(func=lab_heal)


def _state(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", type=Path,
                   help="where the lab keeps data, logs and pids (default: $SHOAL_STATE_DIR or ~/.shoal)")


def _state_dir(a) -> Path:
    return (a.state_dir or default_state_dir()).expanduser().resolve()


def _need_root() -> None:
    if os.geteuid() != 0:
        raise CliError("the lab makes network namespaces, veth pairs and a bridge: run it as root")


def _numbers(text: str, hosts: int) -> list[int]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.removeprefix("agent-").isdigit() or not 1 <= int(part.removeprefix("agent-")) <= hosts:
            raise CliError(f"--own-dockerd: {part!r} is not a host number between 1 and {hosts}")
        out.append(int(part.removeprefix("agent-")))
    return sorted(set(out))


def lab_up(a) -> int:
    _need_root()
    if not 1 <= a.hosts <= 200:
        raise CliError(f"--hosts: must be 1-200, got {a.hosts}")
    if not 1 <= a.replicas <= 3:
        raise CliError(f"--replicas: must be 1-3, got {a.replicas}")
    if a.lease_ttl < 1:
        raise CliError(f"--lease-ttl: must be at least 1 second, got {a.lease_ttl}")
    state = _state_dir(a)
    lab = labmod.Lab(state, hosts=a.hosts, private_dockerd=_numbers(a.own_dockerd, a.hosts),
                     replicas=a.replicas, etcd_members=a.etcd_members, lease_ttl=a.lease_ttl,
                     gc_delay=a.gc_delay, prometheus=a.prometheus, autoscaler=a.prometheus,
                     registry=a.registry)
    print(f"starting a lab of {a.hosts} hosts in {state} (logs in {lab.cluster.logs_dir})", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        lab.start(timeout=a.timeout)
    except (ClusterError, LabError, DockerdError) as exc:
        raise CliError(f"the lab did not start: {exc}") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    net = lab.network
    print(f"lab {net.lab_id} up: bridge {net.bridge} {net.gateway}/{net.prefixlen}")
    print(f"  control plane: {lab.cluster.endpoint_list}   etcd: {lab.cluster.etcd_url}")
    if lab.cluster.registry_address:
        print(f"  registry: {lab.cluster.registry_address}")
    for h in net.hosts.values():
        extra = f"  own dockerd {lab.dockerds[h.number].socket_url}" if h.number in lab.dockerds else ""
        print(f"  {h.name}: {h.address} in netns {h.netns}{extra}")
    print(f"use it: export SHOAL_STATE_DIR={state}; shoal chaos partition agent-1 --for 30s; "
          f"stop it: shoal lab down --state-dir {state}")
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def lab_down(a) -> int:
    _need_root()
    try:
        for line in labmod.down(_state_dir(a)):
            print(line)
    except ClusterError as exc:
        raise CliError(str(exc)) from None
    return 0


def _recorded(a) -> labmod.RecordedLab:
    try:
        return labmod.RecordedLab(_state_dir(a))
    except ClusterError as exc:
        raise CliError(str(exc)) from None


def lab_status(a) -> int:
    lab = _recorded(a)
    net = lab.network
    print(f"lab {net.lab_id}: bridge {net.bridge} {net.gateway}/{net.prefixlen}")
    for h in net.hosts.values():
        try:
            link = "CUT" if net.partitioned(h.number) else "up"
        except LabError as exc:
            link = f"unknown ({exc})"
        dockerd = ""
        if h.number in lab.dockerds:
            alive = lab.dockerd_process(h.number) is not None
            dockerd = f"  own dockerd {'running' if alive else 'DOWN'}"
        print(f"  {h.name}: {h.address} netns {h.netns} link {link}{dockerd}")
    return 0


def lab_partition(a) -> int:
    _need_root()
    net = _recorded(a).network
    try:
        host = net.partition(a.host)
    except (KeyError, LabError) as exc:
        raise CliError(str(exc).strip('"')) from None
    print(f"cut {host.name}'s link ({host.veth} down): {host.address} cannot reach the control plane", flush=True)
    if a.duration is None:
        print(f"restore it with: shoal lab heal {host.name}")
        return 0
    try:
        time.sleep(a.duration)
    finally:
        net.heal(host.number)
        print(f"restored {host.name}'s link after {a.duration:g}s")
    return 0


def lab_heal(a) -> int:
    _need_root()
    net = _recorded(a).network
    try:
        host = net.heal(a.host)
    except (KeyError, LabError) as exc:
        raise CliError(str(exc).strip('"')) from None
    print(f"restored {host.name}'s link ({host.veth} up)")
    return 0
