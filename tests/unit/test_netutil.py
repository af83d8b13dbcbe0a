"""Free ports (shoal/netutil.py): picked below the ephemeral range, where no outgoing
connection can take one between the pick and its listener's bind, and never twice."""

from __future__ import annotations

import socket

import pytest

from shoal import netutil


def test_free_ports_are_distinct_bindable_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    low, high = netutil.PICK_AREA
    first = netutil.free_ports(20)
    second = netutil.free_ports(20) + [netutil.free_port()]
    assert len(set(first + second)) == 41, "a port handed out twice"
    assert all(low <= p <= high < 32768 for p in first + second)
    for port in second:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_a_held_port_is_passed_over_and_an_exhausted_area_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        monkeypatch.setattr(netutil, "PICK_AREA", (port, port))
        monkeypatch.setattr(netutil, "_handed", set())
        monkeypatch.setattr(netutil, "_PICK_TRIES", 50)
        with pytest.raises(OSError, match=f"no 1 free ports between {port} and {port}"):
            netutil.free_port()
    # Free again: it is handed out.
    assert netutil.free_port() == port
