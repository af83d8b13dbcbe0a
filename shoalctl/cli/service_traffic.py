"""What `shoal service create|update` adds for traffic: ``--load-balancer
NAME[:CONTAINER:PORT]`` (repeatable; a target group's ARN also works), ``--namespace NS`` (a
service registry), and the check that ``--cli-input-json``'s traffic members hold nothing
Shoal would drop."""

from __future__ import annotations

import json

from google.protobuf import json_format

from shoal.jsonfields import unknown_members
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli.client import Client
from shoalctl.cli.errors import CliError

_MEMBERS = {
    "loadBalancers": r.ServiceLoadBalancer.DESCRIPTOR,
    "serviceRegistries": r.ServiceRegistry.DESCRIPTOR,
    "serviceConnectConfiguration": r.ServiceConnectConfiguration.DESCRIPTOR,
}


def add_flags(p) -> None:
    p.add_argument("--load-balancer", action="append", default=[], metavar="NAME[:CONTAINER:PORT]",
                   help="attach to the load balancer's default target group (or a target group ARN); "
                        "CONTAINER and PORT default to the task definition's only container and its first "
                        "port mapping (repeatable)")
    p.add_argument("--namespace", metavar="NS", help="register the service in this namespace (SERVICE.NS)")


def parse_input_json(text: str, cls):
    """A request from ``--cli-input-json``'s text: members Shoal has no field for are
    ignored as elsewhere, but not inside the traffic members, where they are refused."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CliError(f"--cli-input-json: not JSON: {exc}") from None
    if isinstance(doc, dict):
        for member, desc in _MEMBERS.items():
            unknown = unknown_members(doc.get(member), desc, member)
            if unknown:
                raise CliError(f"--cli-input-json: {unknown[0]}: not supported by Shoal; leave it out")
    try:
        return json_format.ParseDict(doc, cls(), ignore_unknown_fields=True), doc
    except json_format.ParseError as exc:
        raise CliError(f"--cli-input-json: {exc}") from None


def _only_container(c: Client, taskdef: str, spec: str) -> tuple[str, int]:
    td = c.DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=taskdef)).task_definition
    if len(td.container_definitions) != 1:
        raise CliError(f"--load-balancer: task definition {td.family}:{td.revision} has "
                       f"{len(td.container_definitions)} containers; say which: {spec}:CONTAINER:PORT")
    container = td.container_definitions[0]
    if not container.port_mappings:
        raise CliError(f"--load-balancer: container {container.name!r} of {td.family}:{td.revision} maps no port")
    return container.name, container.port_mappings[0].container_port


def load_balancers(c: Client, specs: list[str], taskdef: str) -> list[r.ServiceLoadBalancer]:
    out = []
    for spec in specs:
        if spec.startswith("arn:"):
            # An ARN holds colons: only a trailing :CONTAINER:PORT is split off.
            head, container, port = spec, "", ""
            parts = spec.rsplit(":", 2)
            if len(parts) == 3 and parts[2].isdigit() and "/" in parts[0]:
                head, container, port = parts
        else:
            head, _, rest = spec.partition(":")
            container, _, port = rest.partition(":")
        if not head or bool(container) != bool(port):
            raise CliError(f"--load-balancer: expected NAME or NAME:CONTAINER:PORT, got {spec!r}")
        if port and not port.isdigit():
            raise CliError(f"--load-balancer: PORT must be a number, got {port!r}")
        if not container:
            container, number = _only_container(c, taskdef, spec)
        else:
            number = int(port)
        entry = r.ServiceLoadBalancer(container_name=container, container_port=number)
        if head.startswith("arn:"):
            entry.target_group_arn = head
        else:
            entry.load_balancer_name = head
        out.append(entry)
    return out


def registries(namespace: str | None) -> list[r.ServiceRegistry]:
    return [r.ServiceRegistry(namespace=namespace)] if namespace else []
