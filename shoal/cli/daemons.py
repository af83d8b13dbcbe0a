"""`shoal controlplane ...` and `shoal agent ...`: the daemons, with their own flags."""

from __future__ import annotations

import argparse


def _controlplane(a) -> int:
    from controlplane.server import main

    return main(a.args)


def _agent(a) -> int:
    from agent.main import main

    return main(a.args)


def register(sub) -> None:
    for name, func, helptext in (("controlplane", _controlplane, "run a control-plane replica"),
                                 ("agent", _agent, "run a node agent")):
        p = sub.add_parser(name, help=helptext, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER, help=f"flags of {name} (see `shoal {name} --help`)")
        p.set_defaults(func=func)
