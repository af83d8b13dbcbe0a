"""`shoal chaos VERB`: make one fault in a cluster `shoal up` or `shoal lab up` started,
print what was done, then how long the cluster took to notice and to converge back (all
services at their desired count, nothing waiting to be placed, every node connected).
Exit status 0 once converged, 1 if not within --timeout."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from shoalctl.chaos import actions
from shoalctl.chaos.targets import RecordedTarget
from shoalctl.cli.client import Client
from shoalctl.cli.client import state_dir as default_state_dir
from shoalctl.cli.durations import duration_arg
from shoalctl.cli.errors import CliError
from shoalctl.lab.network import LabError
from shoalctl.local.dockerd import DockerdError
from shoalctl.local.errors import ClusterError
from shoalctl.local.statefiles import config_path


def register(sub) -> None:
    p = sub.add_parser("chaos", help="make a fault on purpose and measure how the cluster recovers")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    v = verbs.add_parser("kill-agent", help="SIGKILL a node's agent; its tasks must be replaced elsewhere")
    v.add_argument("node", help="agent-N, node id or container instance ARN")
    v.add_argument("--restart", action="store_true", help="then start it again; it must remove its stale containers")
    _common(v, actions.kill_agent, "node", "restart")

    v = verbs.add_parser("pause-agent", help="SIGSTOP a node's agent for a while, then SIGCONT")
    v.add_argument("node")
    v.add_argument("--for", dest="duration", type=duration_arg, default=30.0, metavar="DURATION",
                   help="how long it stays frozen (default 30s)")
    _common(v, actions.pause_agent, "node", "duration")

    v = verbs.add_parser("partition", help="cut a lab host's link for a while (lab only)")
    v.add_argument("node")
    v.add_argument("--for", dest="duration", type=duration_arg, default=30.0, metavar="DURATION",
                   help="how long the link stays cut (default 30s)")
    _common(v, actions.partition, "node", "duration")

    v = verbs.add_parser("kill-task", help="SIGKILL a task's containers through docker on this machine")
    v.add_argument("task", help="task id or ARN")
    _common(v, actions.kill_task, "task")

    v = verbs.add_parser("stop-docker", help="stop a lab host's own dockerd and start it again")
    v.add_argument("node")
    v.add_argument("--for", dest="down_for", type=duration_arg, default=0.0, metavar="DURATION",
                   help="how long dockerd stays down (default: started again at once)")
    _common(v, actions.stop_docker, "node", "down_for")

    v = verbs.add_parser("kill-leader", help="SIGKILL the control-plane replica that leads")
    v.add_argument("--restart", action="store_true", help="start the killed replica again afterwards")
    _common(v, actions.kill_leader, "restart")


def _common(p: argparse.ArgumentParser, action, *fields: str) -> None:
    p.add_argument("--state-dir", type=Path,
                   help="the cluster's state dir (default: $SHOAL_STATE_DIR or ~/.shoal)")
    p.add_argument("--endpoint", help="control plane HOST:PORT[,...] (default: from the state dir's config.json)")
    p.add_argument("--cluster", default="default", help="the Shoal cluster whose services must converge")
    p.add_argument("--timeout", type=duration_arg, default=120.0, metavar="DURATION",
                   help="give up waiting for convergence after this long (default 120s)")
    p.set_defaults(func=lambda a: run(a, action, fields))


def run(a, action, fields: tuple[str, ...]) -> int:
    state = (a.state_dir or default_state_dir()).expanduser().resolve()
    if a.timeout <= 0:
        raise CliError("--timeout: must be positive")
    try:
        target = RecordedTarget(state)
        endpoint = a.endpoint or json.loads(config_path(state).read_text()).get("endpoint", "")
    except ClusterError as exc:
        raise CliError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"no endpoint: give --endpoint, or a state dir with config.json ({exc})") from None
    # The CLI client takes its credentials from the state dir's config.json (the admin
    # identity `shoal up`/`shoal lab up` made) unless SHOAL_CA/CERT/KEY say otherwise.
    os.environ["SHOAL_STATE_DIR"] = str(state)
    client = Client(endpoint, timeout=10)
    kwargs = {f: getattr(a, f) for f in fields}
    try:
        report = action(target, client, timeout=a.timeout, cluster=a.cluster, say=lambda s: print(s, flush=True),
                        **kwargs)
    except (ClusterError, LabError, DockerdError) as exc:
        raise CliError(str(exc)) from None
    except KeyError as exc:
        raise CliError(str(exc).strip('"')) from None
    finally:
        client.close()
    return 0 if report.converged else 1
