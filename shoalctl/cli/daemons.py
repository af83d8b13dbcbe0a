"""`shoal controlplane ...` and `shoal agent ...`: the daemons, with their own flags."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

# name -> (module with main(argv), help). Each daemon parses its own flags.
DAEMONS = {
    "controlplane": ("controlplane.server", "run a control-plane replica"),
    "agent": ("agent.main", "run a node agent"),
    "agent-fleet": ("agent.fleet", "run many hollow agents for scale tests"),
    "autoscaler": ("autoscaler.main", "run the service and cluster autoscaler"),
}


def entry(name: str) -> Callable[[list[str]], int]:
    return importlib.import_module(DAEMONS[name][0]).main


def register(sub) -> None:
    # Listed for `shoal --help`; shoalctl.cli.main hands `shoal NAME ...` to the daemon's own
    # parser before argparse sees the flags (argparse.REMAINDER drops leading options).
    for name, (_, helptext) in DAEMONS.items():
        p = sub.add_parser(name, help=helptext, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER, help=f"flags of {name} (see `shoal {name} --help`)")
        p.set_defaults(func=lambda a, name=name: entry(name)(a.args))
