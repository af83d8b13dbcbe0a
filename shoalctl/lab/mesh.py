"""The lab's data path: what lets one lab host reach a task of another at that host's own
address, as the routing mesh does between real machines.

A task's host port is published by a dockerd in the root namespace, not in the host's
namespace whose address the control plane advertises for it. So each host's namespace
forwards its agent's dynamic host-port range to the root namespace (the lab bridge's
address): connections that arrive on its link (another host's proxy), or that its own
processes open to its address or to loopback (its proxy, its agent's health checks), are
DNATed there and masqueraded, so the answers come back the same way. A task of host B is
then reached through B's link, and cutting that link cuts B's tasks off like a pulled
cable — which is what the mesh's lost-node handling must survive.

Frames between two hosts cross the lab bridge; with br_netfilter loaded they also cross the
root namespace's FORWARD chain, whose policy dockerd sets to DROP. One rule, carrying the
lab's id as its comment, lets the lab bridge's own traffic through; ``disallow_bridge``
(and ``sweep``) remove it.
"""

from __future__ import annotations

import logging
import subprocess

from shoal import logs

log = logging.getLogger(__name__)


class MeshError(RuntimeError):
    """A forwarding rule could not be set; the message says which command and why."""


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(list(cmd), capture_output=True, text=True, check=False)
    if check and out.returncode != 0:
        raise MeshError(f"`{' '.join(cmd)}` failed: {out.stderr.strip() or out.stdout.strip()} "
                        "(the lab's data path needs root and iptables)")
    return out


def _comment(lab_id: str) -> str:
    return f"shoal-lab-{lab_id}"


def _bridge_rule(bridge: str, lab_id: str) -> list[str]:
    return ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", _comment(lab_id), "-j", "ACCEPT"]


def allow_bridge(bridge: str, lab_id: str) -> None:
    """Lets frames between the lab's hosts through the root namespace's FORWARD chain."""
    rule = _bridge_rule(bridge, lab_id)
    if _run("iptables", "-C", *rule, check=False).returncode != 0:
        _run("iptables", "-I", *rule)


def disallow_bridge(lab_id: str) -> list[str]:
    """Removes every FORWARD rule carrying lab ``lab_id``'s comment; works without the lab's
    state (``sweep``)."""
    done = []
    listed = _run("iptables", "-S", "FORWARD", check=False).stdout
    for line in listed.splitlines():
        if f"--comment {_comment(lab_id)}" in line and line.startswith("-A FORWARD "):
            _run("iptables", "-D", *line.split()[1:], check=False)
            done.append(f"removed the FORWARD rule of lab {lab_id}")
    return done


def forward_task_ports(netns: str, address: str, gateway: str, ports: tuple[int, int]) -> None:
    """In ``netns`` (a lab host at ``address``): TCP to ``ports`` on its address or on
    loopback goes to the same port at ``gateway``, where the root namespace's dockerd
    publishes it. Replaces whatever NAT rules the namespace had (the lab owns it), so an
    agent started again gets the same rules once."""
    span = f"{ports[0]}:{ports[1]}"
    ns = ["ip", "netns", "exec", netns]
    # Forwarding arriving connections back out of the link, and loopback-sourced ones
    # (health checks to 127.0.0.1) out of it at all, are off in a new namespace.
    _run(*ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.route_localnet=1")
    ipt = [*ns, "iptables", "-t", "nat"]
    for chain in ("PREROUTING", "OUTPUT", "POSTROUTING"):
        _run(*ipt, "-F", chain)
    dnat = ["-p", "tcp", "--dport", span, "-j", "DNAT", "--to-destination", gateway]
    _run(*ipt, "-A", "PREROUTING", "-i", "eth0", "-d", address, *dnat)
    _run(*ipt, "-A", "OUTPUT", "-d", f"{address},127.0.0.1", *dnat)
    _run(*ipt, "-A", "POSTROUTING", "-o", "eth0", "-d", gateway, "-p", "tcp", "--dport", span, "-j", "MASQUERADE")
    log.info("lab host forwards its task ports", extra=logs.kv(netns=netns, address=address, ports=span,
                                                                to=gateway))
