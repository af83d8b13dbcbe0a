"""`shoal cluster|node|taskdef|task|service ...`: the ECS resources, over the Operator API."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from google.protobuf import json_format

from shoal.paging import batches, every_page
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r
from shoalctl.cli import deploy, install_script, placement_args, refs, service_deployments, service_traffic
from shoalctl.cli.client import add_target_flags, add_verb, connect
from shoalctl.cli.durations import duration_arg
from shoalctl.cli.errors import CliError
from shoalctl.cli.output import ago, print_json, table, when


def _short(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _read_file(path: str, what: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise CliError(f"{what}: cannot read {path}: {exc.strerror}") from exc


# ---- clusters ---------------------------------------------------------------------------------

def cluster_create(a) -> None:
    resp = connect(a).CreateCluster(op.CreateClusterRequest(cluster_name=a.name))
    print_json(resp.cluster) if a.output == "json" else print(resp.cluster.cluster_arn)


def cluster_list(a) -> None:
    c = connect(a)
    arns = list(c.ListClusters(op.ListRequest()).arns)
    clusters = c.DescribeClusters(op.DescribeClustersRequest(clusters=arns)).clusters if arns else []
    if a.output == "json":
        print_json(list(clusters))
        return
    table(["NAME", "STATUS", "NODES", "SERVICES", "RUNNING", "PENDING"],
          [[x.cluster_name, x.status, x.registered_container_instances_count, x.active_services_count,
            x.running_tasks_count, x.pending_tasks_count] for x in clusters])


def cluster_delete(a) -> None:
    resp = connect(a).DeleteCluster(op.DeleteClusterRequest(cluster=a.name))
    print(f"deleted {resp.cluster.cluster_arn}")


# ---- nodes ------------------------------------------------------------------------------------

def _describe_nodes(a, refs: list[str]) -> list[r.ContainerInstance]:
    resp = connect(a).DescribeContainerInstances(
        op.DescribeContainerInstancesRequest(cluster=a.cluster, container_instances=refs))
    if resp.failures and not resp.container_instances:
        raise CliError(f"node {', '.join(f.arn for f in resp.failures)} not found in cluster {a.cluster}")
    return list(resp.container_instances)


def node_list(a) -> None:
    c = connect(a)
    arns = list(c.ListContainerInstances(op.ListContainerInstancesRequest(cluster=a.cluster, status=a.status)).arns)
    nodes = _describe_nodes(a, arns) if arns else []
    if a.output == "json":
        print_json(nodes)
        return
    rows = []
    for n in nodes:
        attrs = {x.name: x.value for x in n.attributes}
        rem = {x.name: x.integer_value for x in n.remaining_resources}
        rows.append([n.id[:12], n.hostname, n.status, "yes" if n.agent_connected else "NO",
                     attrs.get("ecs.availability-zone", "-"), n.running_tasks_count,
                     f"{rem.get('CPU', 0)}/{n.cpu_units}", f"{rem.get('MEMORY', 0)}/{n.memory_mib}"])
    table(["ID", "HOSTNAME", "STATUS", "CONNECTED", "ZONE", "TASKS", "CPU FREE", "MEM FREE (MiB)"], rows)


def node_describe(a) -> None:
    nodes = _describe_nodes(a, [refs.node_id(connect(a), a.cluster, a.node)])
    print_json(nodes[0]) if a.output == "json" else _print_kv(nodes[0])


def _set_node_state(a, status: str) -> None:
    c = connect(a)
    resp = c.UpdateContainerInstancesState(op.UpdateContainerInstancesStateRequest(
        cluster=a.cluster, container_instances=[refs.node_id(c, a.cluster, a.node)], status=status))
    if resp.failures:
        raise CliError(f"node {a.node} not found in cluster {a.cluster}")
    print(f"{resp.container_instances[0].id} is {status}")


def node_deregister(a) -> None:
    c = connect(a)
    resp = c.DeregisterContainerInstance(op.DeregisterContainerInstanceRequest(
        cluster=a.cluster, container_instance=refs.node_id(c, a.cluster, a.node), force=a.force))
    print(f"deregistered {resp.container_instances[0].id}")


# ---- task definitions -------------------------------------------------------------------------

def taskdef_register(a) -> None:
    resp = connect(a).RegisterTaskDefinition(op.RegisterTaskDefinitionRequest(json=_read_file(a.file, "FILE")))
    td = resp.task_definition
    for w in td.warnings:
        print(f"warning: {w}", file=sys.stderr)
    print_json(td) if a.output == "json" else print(f"registered {td.family}:{td.revision}")


def taskdef_list(a) -> None:
    resp = connect(a).ListTaskDefinitions(op.ListTaskDefinitionsRequest(family_prefix=a.family_prefix,
                                                                        status=a.status))
    print_json({"taskDefinitionArns": list(resp.arns)}) if a.output == "json" else [
        print(_short(x)) for x in resp.arns]


def taskdef_describe(a) -> None:
    td = connect(a).DescribeTaskDefinition(op.TaskDefinitionRef(task_definition=a.taskdef)).task_definition
    if a.output == "json":
        print_json(td)
        return
    print(f"{td.family}:{td.revision}  {td.status}  networkMode={td.network_mode}  cpu={td.cpu or '-'} "
          f"memory={td.memory or '-'}")
    table(["CONTAINER", "IMAGE", "CPU", "MEMORY", "PORTS"],
          [[c.name, c.image, c.cpu, c.memory if c.HasField("memory") else c.memory_reservation,
            ",".join(f"{p.container_port}:{p.host_port or 'dyn'}" for p in c.port_mappings) or "-"]
           for c in td.container_definitions])
    for w in td.warnings:
        print(f"warning: {w}")


def taskdef_deregister(a) -> None:
    td = connect(a).DeregisterTaskDefinition(op.TaskDefinitionRef(task_definition=a.taskdef)).task_definition
    print(f"{td.family}:{td.revision} is {td.status}")


# ---- tasks ------------------------------------------------------------------------------------

def _input_json(path: str | None, cls):
    if not path:
        return cls()
    return service_traffic.parse_input_json(_read_file(path, "--cli-input-json"), cls)[0]


def task_run(a) -> None:
    req = _input_json(a.cli_input_json, op.RunTaskRequest)
    req.cluster = req.cluster or a.cluster
    req.task_definition = a.taskdef or req.task_definition
    if not req.task_definition:
        raise CliError("--taskdef: required (or taskDefinition in --cli-input-json)")
    req.count = a.count or req.count or 1
    req.group = a.group or req.group
    req.started_by = a.started_by or req.started_by
    req.launch_type = a.launch_type or req.launch_type
    req.enable_execute_command = a.enable_execute_command or req.enable_execute_command
    req.placement_strategy.extend(placement_args.strategy(s) for s in a.placement_strategy)
    req.placement_constraints.extend(placement_args.constraint(s) for s in a.placement_constraint)
    resp = connect(a).RunTask(req)
    if a.output == "json":
        print_json({"tasks": [json_format.MessageToDict(t) for t in resp.tasks],
                    "failures": [json_format.MessageToDict(f) for f in resp.failures]})
        return
    for t in resp.tasks:
        print(t.id)
    for f in resp.failures:
        print(f"shoal: {f.arn or 'task'} not started: {f.reason}: {f.detail}", file=sys.stderr)


def _describe_tasks(a, ids: list[str]) -> list[r.Task]:
    c = connect(a)
    out: list[r.Task] = []
    for batch in batches(ids, 100):
        out += c.DescribeTasks(op.DescribeTasksRequest(cluster=a.cluster, tasks=batch)).tasks
    return out


def task_list(a) -> None:
    c = connect(a)
    req = op.ListTasksRequest(cluster=a.cluster, service_name=a.service or "", desired_status=a.desired_status or "",
                              family=a.family or "", container_instance=a.node or "",
                              launch_type=a.launch_type or "")
    tasks = _describe_tasks(a, every_page(c.ListTasks, req))
    if a.output == "json":
        print_json(tasks)
        return
    names = refs.node_names(c, a.cluster) if tasks else {}
    table(["ID", "TASKDEF", "SERVICE", "STATUS", "DESIRED", "NODE", "PORTS", "AGE"],
          [[t.id[:12], _short(t.task_definition_arn), t.service_name or "-", t.last_status, t.desired_status,
            _node_cell(t.node_id, names), _ports(t), ago(t.created_at)] for t in tasks])


def _node_cell(node_id: str, names: dict[str, str]) -> str:
    """The node's name users know, beside the id the other commands take (a prefix of it)."""
    if not node_id:
        return "-"
    name = names.get(node_id, "")
    return f"{name} ({node_id[:12]})" if name and name != node_id else node_id[:12]


def _ports(t: r.Task) -> str:
    return ",".join(f"{b.host_port}->{b.container_port}" for c in t.containers for b in c.network_bindings) or "-"


def task_describe(a) -> None:
    tasks = _describe_tasks(a, [refs.task_id(connect(a), a.cluster, a.task)])
    if not tasks:
        raise CliError(f"task {a.task} not found in cluster {a.cluster}")
    t = tasks[0]
    if a.output == "json":
        print_json(t)
        return
    _print_kv(t, skip=("containers",))
    table(["CONTAINER", "STATUS", "EXIT", "HEALTH", "PORTS", "REASON"],
          [[c.name, c.last_status, c.exit_code if c.HasField("exit_code") else "-", c.health_status or "-",
            ",".join(f"{b.host_port}->{b.container_port}" for b in c.network_bindings) or "-", c.reason or "-"]
           for c in t.containers])


def task_stop(a) -> None:
    c = connect(a)
    t = c.StopTask(op.StopTaskRequest(cluster=a.cluster, task=refs.task_id(c, a.cluster, a.task),
                                      reason=a.reason or "")).task
    print(f"{t.id} desired STOPPED ({t.last_status})")


def task_protect(a) -> None:
    if a.minutes is not None and a.off:
        raise CliError("--minutes: not with --off")
    c = connect(a)
    req = op.UpdateTaskProtectionRequest(cluster=a.cluster, tasks=[refs.task_id(c, a.cluster, a.task)],
                                         protection_enabled=not a.off)
    if a.minutes is not None:
        req.expires_in_minutes = a.minutes
    resp = c.UpdateTaskProtection(req)
    if resp.failures:
        f = resp.failures[0]
        raise CliError(f"task {f.arn}: {f.reason}{': ' + f.detail if f.detail else ''}")
    for t in resp.protected_tasks:
        until = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t.expiration_date))
        print(f"{t.task_arn.rpartition('/')[2]} protected from scale-in until {until}" if t.protection_enabled
              else f"{t.task_arn.rpartition('/')[2]} not protected")


# ---- services ---------------------------------------------------------------------------------

def _deployment_config(a, base: r.DeploymentConfiguration) -> None:
    if a.min_healthy_percent is not None:
        base.minimum_healthy_percent = a.min_healthy_percent
    if a.max_percent is not None:
        base.maximum_percent = a.max_percent
    if getattr(a, "circuit_breaker", False):
        base.deployment_circuit_breaker.enable = True
        base.deployment_circuit_breaker.rollback = bool(a.rollback)
    service_deployments.strategy_config(a, base)


def service_create(a) -> int:
    req = _input_json(a.cli_input_json, op.CreateServiceRequest)
    req.cluster = req.cluster or a.cluster
    req.service_name = a.name or req.service_name
    req.task_definition = a.taskdef or req.task_definition
    if not req.task_definition:
        raise CliError("--taskdef: required (or taskDefinition in --cli-input-json)")
    if a.daemon and a.scheduling_strategy == "REPLICA":
        raise CliError("--daemon: conflicts with --scheduling-strategy REPLICA")
    if a.daemon or a.scheduling_strategy:
        req.scheduling_strategy = "DAEMON" if a.daemon else a.scheduling_strategy
    if a.desired is not None:
        req.desired_count = a.desired
    req.launch_type = a.launch_type or req.launch_type
    req.placement_strategy.extend(placement_args.strategy(s) for s in a.placement_strategy)
    req.placement_constraints.extend(placement_args.constraint(s) for s in a.placement_constraint)
    if a.health_check_grace_period is not None:
        req.health_check_grace_period_seconds = a.health_check_grace_period
    if a.disconnect_tolerance is not None:
        req.disconnect_tolerance_seconds = round(a.disconnect_tolerance)
    req.replace_on_disconnect = bool(a.replace_on_disconnect) or req.replace_on_disconnect
    req.availability_zone_rebalancing = a.az_rebalancing or req.availability_zone_rebalancing
    req.enable_execute_command = a.enable_execute_command or req.enable_execute_command
    req.daemon_critical = a.critical or req.daemon_critical
    if a.critical_grace is not None:
        req.daemon_critical_grace_seconds = a.critical_grace
    _deployment_config(a, req.deployment_configuration)
    c = connect(a)
    req.load_balancers.extend(service_traffic.load_balancers(c, a.load_balancer, req.task_definition))
    req.service_registries.extend(service_traffic.registries(a.namespace))
    svc = c.CreateService(req).service
    print_json(svc) if a.output == "json" else print(service_line("created", svc), flush=True)
    return deploy.wait(c, a, svc) if a.wait else 0


def service_line(verb: str, svc: r.Service) -> str:
    """One line after a create or update. A daemon's desired count is the leader's to set (one
    task per eligible node), so it reads 0 right after a create: say what it means instead."""
    count = "daemon: one task per eligible node" if svc.scheduling_strategy == "DAEMON" \
        else f"desired {svc.desired_count}"
    return f"{verb} service {svc.service_name} ({_short(svc.task_definition)}, {count})"


def service_update(a) -> int:
    req = op.UpdateServiceRequest()
    if a.cli_input_json:
        req, doc = service_traffic.parse_input_json(_read_file(a.cli_input_json, "--cli-input-json"),
                                                    op.UpdateServiceRequest)
        # ECS replaces a list when the member is present, even empty; absent keeps it.
        req.update_load_balancers = "loadBalancers" in doc
        req.update_service_registries = "serviceRegistries" in doc
        req.update_placement_constraints = "placementConstraints" in doc
        req.update_placement_strategy = "placementStrategy" in doc
    req.cluster = req.cluster or a.cluster
    req.service = a.name or req.service
    req.task_definition = a.taskdef or req.task_definition
    req.force_new_deployment = a.force_new_deployment or req.force_new_deployment
    c = connect(a)
    if a.load_balancer:
        taskdef = req.task_definition or _service_taskdef(c, req.cluster, req.service)
        req.update_load_balancers = True
        del req.load_balancers[:]
        req.load_balancers.extend(service_traffic.load_balancers(c, a.load_balancer, taskdef))
    if a.namespace:
        req.update_service_registries = True
        del req.service_registries[:]
        req.service_registries.extend(service_traffic.registries(a.namespace))
    if a.desired is not None:
        req.desired_count = a.desired
    if a.health_check_grace_period is not None:
        req.health_check_grace_period_seconds = a.health_check_grace_period
    if a.disconnect_tolerance is not None:
        req.disconnect_tolerance_seconds = round(a.disconnect_tolerance)
    if a.replace_on_disconnect is not None:
        req.replace_on_disconnect = a.replace_on_disconnect
    req.availability_zone_rebalancing = a.az_rebalancing or req.availability_zone_rebalancing
    if a.enable_execute_command is not None:
        req.enable_execute_command = a.enable_execute_command
    if a.critical is not None:
        req.daemon_critical = a.critical
    if a.critical_grace is not None:
        req.daemon_critical_grace_seconds = a.critical_grace
    if (a.min_healthy_percent is not None or a.max_percent is not None or a.circuit_breaker
            or service_deployments.strategy_config(a, r.DeploymentConfiguration())):
        _deployment_config(a, req.deployment_configuration)
    if a.placement_strategy:
        req.update_placement_strategy = True
        req.placement_strategy.extend(placement_args.strategy(s) for s in a.placement_strategy)
    if a.placement_constraint:
        req.update_placement_constraints = True
        req.placement_constraints.extend(placement_args.constraint(s) for s in a.placement_constraint)
    svc = c.UpdateService(req).service
    print_json(svc) if a.output == "json" else print(service_line("updated", svc), flush=True)
    return deploy.wait(c, a, svc) if a.wait else 0


def _service_taskdef(c, cluster: str, name: str) -> str:
    resp = c.DescribeServices(op.DescribeServicesRequest(cluster=cluster, services=[name]))
    if not resp.services:
        raise CliError(f"service {name} not found in cluster {cluster}")
    return resp.services[0].task_definition


def service_list(a) -> None:
    c = connect(a)
    arns = every_page(c.ListServices, op.ListServicesRequest(cluster=a.cluster, launch_type=a.launch_type or ""))
    services: list[r.Service] = []
    for batch in batches(arns, 10):
        services += c.DescribeServices(op.DescribeServicesRequest(cluster=a.cluster, services=batch)).services
    if a.output == "json":
        print_json(services)
        return
    table(["NAME", "STATUS", "TASKDEF", "DESIRED", "RUNNING", "PENDING", "DEPLOYMENTS"],
          [[s.service_name, s.status, _short(s.task_definition), s.desired_count, s.running_count,
            s.pending_count, len(s.deployments)] for s in services])


def service_describe(a) -> None:
    resp = connect(a).DescribeServices(op.DescribeServicesRequest(cluster=a.cluster, services=[a.name]))
    if not resp.services:
        raise CliError(f"service {a.name} not found in cluster {a.cluster}")
    s = resp.services[0]
    if a.output == "json":
        print_json(s)
        return
    print(f"{s.service_name}  {s.status}  {_short(s.task_definition)}  {s.scheduling_strategy or 'REPLICA'}  "
          f"desired={s.desired_count} running={s.running_count} pending={s.pending_count}")
    print("placement: " + (", ".join(f"{p.type}({p.field})" for p in s.placement_strategy) or "-") +
          ("; " + ", ".join(f"{c.type}({c.expression})" if c.expression else c.type
                            for c in s.placement_constraints) if s.placement_constraints else ""))
    if s.load_balancers:
        print("load balancers: " + ", ".join(
            f"{x.load_balancer_name or x.target_group_arn.rsplit('/', 2)[-2]} -> {x.container_name}:{x.container_port}"
            for x in s.load_balancers))
    if s.service_registries:
        print("registered as: " + ", ".join(f"{s.service_name}.{x.namespace}" for x in s.service_registries))
    print("\nDEPLOYMENTS")
    table(["ID", "STATUS", "TASKDEF", "DESIRED", "RUNNING", "PENDING", "FAILED", "ROLLOUT"],
          [[d.id, d.status, _short(d.task_definition), d.desired_count, d.running_count, d.pending_count,
            d.failed_tasks, d.rollout_state] for d in s.deployments])
    print("\nEVENTS")
    for e in s.events[: a.events]:
        print(f"  {ago(e.created_at):>4} ago  {e.message}")


def service_delete(a) -> None:
    svc = connect(a).DeleteService(op.DeleteServiceRequest(cluster=a.cluster, service=a.name, force=a.force)).service
    print(f"service {svc.service_name} is {svc.status}")


def _print_kv(msg, skip: tuple[str, ...] = ()) -> None:
    """One field a line; times (fields named ...At) as dates, not epoch seconds."""
    data = json_format.MessageToDict(msg)
    for k, v in data.items():
        if k in skip:
            continue
        if k.endswith("At") and isinstance(v, (int, float)):
            v = when(v)
        print(f"{k + ':':<28} {json.dumps(v) if isinstance(v, (dict, list)) else v}")


# ---- wiring -----------------------------------------------------------------------------------

def register(sub) -> None:
    cl = sub.add_parser("cluster", help="clusters").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(cl, "create", cluster_create, "create a cluster", cluster=True, output=True)
    p.add_argument("name")
    add_verb(cl, "list", cluster_list, "list clusters", cluster=True, output=True)
    p = add_verb(cl, "delete", cluster_delete, "delete an empty cluster", cluster=True)
    p.add_argument("name")

    nd = sub.add_parser("node", help="container instances").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(nd, "list", node_list, "list nodes", cluster=True, output=True)
    p.add_argument("--status", default="", choices=("", "ACTIVE", "DRAINING", "INACTIVE"))
    for verb, func, helptext in (("describe", node_describe, "show one node"),
                                 ("drain", lambda a: _set_node_state(a, "DRAINING"), "stop placing, move tasks off"),
                                 ("activate", lambda a: _set_node_state(a, "ACTIVE"), "undo drain")):
        p = add_verb(nd, verb, func, helptext, cluster=True, output=verb == "describe")
        p.add_argument("node", help="node id (or a unique prefix of it), ARN or hostname")
    p = add_verb(nd, "deregister", node_deregister, "remove a node from the cluster", cluster=True)
    p.add_argument("node", help="node id (or a unique prefix of it), ARN or hostname")
    p.add_argument("--force", action="store_true", help="even with tasks on it")
    install_script.register(nd)

    td = sub.add_parser("taskdef", help="task definitions").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(td, "register", taskdef_register,
                 "register an ECS task definition JSON file ('-' for stdin)", cluster=True, output=True)
    p.add_argument("file")
    p = add_verb(td, "list", taskdef_list, "list revisions", cluster=True, output=True)
    p.add_argument("--family-prefix", default="")
    p.add_argument("--status", default="ACTIVE", choices=("ACTIVE", "INACTIVE", "ALL"))
    p = add_verb(td, "describe", taskdef_describe, "show FAMILY[:REVISION]", cluster=True, output=True)
    p.add_argument("taskdef")
    p = add_verb(td, "deregister", taskdef_deregister, "mark FAMILY:REVISION INACTIVE", cluster=True)
    p.add_argument("taskdef")

    tk = sub.add_parser("task", help="tasks").add_subparsers(dest="verb", metavar="VERB", required=True)
    p = add_verb(tk, "run", task_run, "run standalone tasks", cluster=True, output=True)
    p.add_argument("--taskdef", help="FAMILY[:REVISION]")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--group", default="")
    p.add_argument("--started-by", default="")
    p.add_argument("--cli-input-json", metavar="FILE", help="a RunTask request in ECS JSON")
    p.add_argument("--launch-type", help="EC2 or EXTERNAL (kept as given; default EC2)")
    p.add_argument("--enable-execute-command", action="store_true", help="allow `shoal exec` into the tasks")
    placement_args.add_flags(p)
    p = add_verb(tk, "list", task_list, "list tasks", cluster=True, output=True)
    p.add_argument("--service")
    p.add_argument("--family")
    p.add_argument("--node")
    p.add_argument("--desired-status", choices=("RUNNING", "STOPPED", "PENDING"))
    p.add_argument("--launch-type", help="only tasks of this launch type")
    p = add_verb(tk, "describe", task_describe, "show one task", cluster=True, output=True)
    p.add_argument("task", help="task id (or a unique prefix of it, as `task list` prints) or ARN")
    p = add_verb(tk, "stop", task_stop, "stop a task", cluster=True)
    p.add_argument("task", help="task id (or a unique prefix of it, as `task list` prints) or ARN")
    p.add_argument("--reason")
    p = add_verb(tk, "protect", task_protect, "protect a service task from scale-in and deployments "
                 "(UpdateTaskProtection)", cluster=True)
    p.add_argument("task")
    p.add_argument("--minutes", type=int, help="how long (1-2880; default 120)")
    p.add_argument("--off", action="store_true", help="end the task's protection")

    sv = sub.add_parser("service", help="services").add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in ("create", "update"):
        p = sv.add_parser(verb, help=f"{verb} a service")
        p.add_argument("name", nargs="?" if verb == "create" else None)
        p.add_argument("--taskdef", help="FAMILY[:REVISION]")
        p.add_argument("--desired", type=int)
        p.add_argument("--min-healthy-percent", type=int)
        p.add_argument("--max-percent", type=int)
        p.add_argument("--circuit-breaker", action="store_true", help="enable the deployment circuit breaker")
        p.add_argument("--rollback", action="store_true", help="with --circuit-breaker: roll back on failure")
        placement_args.add_flags(p)
        service_traffic.add_flags(p)
        service_deployments.add_strategy_flags(p)
        p.add_argument("--cli-input-json", metavar="FILE",
                       help=f"a{'n' if verb == 'update' else ''} {verb.capitalize()}Service request in ECS JSON")
        p.add_argument("--health-check-grace-period", type=int, metavar="SECONDS",
                       help="how long new tasks' failing load-balancer health checks are not held against them")
        p.add_argument("--disconnect-tolerance", type=duration_arg, metavar="DURATION",
                       help="how long a node may be out of reach before its tasks are replaced (they read "
                            "UNKNOWN meanwhile; e.g. 60s; default 0: at once)")
        p.add_argument("--replace-on-disconnect", action=argparse.BooleanOptionalAction, default=None,
                       help="within the disconnect tolerance, start replacements at once and keep the better "
                            "copy when the node returns (the running, healthy one; ties: the original)")
        p.add_argument("--enable-execute-command", action=argparse.BooleanOptionalAction, default=None,
                       help="allow `shoal exec` into the service's tasks")
        p.add_argument("--az-rebalancing", choices=("ENABLED", "DISABLED"),
                       help="availabilityZoneRebalancing: move tasks back to balance when they crowd into "
                            "some zones (default DISABLED)")
        p.add_argument("--critical", action=argparse.BooleanOptionalAction, default=None,
                       help="daemonCritical (DAEMON only): a node where the daemon keeps failing is drained")
        p.add_argument("--critical-grace", type=int, default=None, metavar="SECONDS",
                       help="daemonCriticalGraceSeconds: how long a critical daemon may stay failed on a node "
                            "before the node drains (10-86400; default 60)")
        if verb == "create":
            p.add_argument("--scheduling-strategy", choices=("REPLICA", "DAEMON"),
                           help="DAEMON: one task on every ACTIVE node matching the constraints (no --desired)")
            p.add_argument("--daemon", action="store_true", help="the same as --scheduling-strategy DAEMON")
            p.add_argument("--launch-type", help="EC2 or EXTERNAL (kept as given; default EC2)")
            p.set_defaults(func=service_create)
        else:
            p.add_argument("--force-new-deployment", action="store_true")
            p.set_defaults(func=service_update)
        deploy.add_wait_flags(p)
        add_target_flags(p, cluster=True, output=True)
    deploy.add_parser(sv)
    p = add_verb(sv, "list", service_list, "list services", cluster=True, output=True)
    p.add_argument("--launch-type", help="only services of this launch type")
    p = add_verb(sv, "describe", service_describe,
                 "show a service, its deployments and events", cluster=True, output=True)
    p.add_argument("name")
    p.add_argument("--events", type=int, default=10, help="how many events to show")
    service_deployments.add_verbs(sv)
    p = add_verb(sv, "delete", service_delete, "delete a service", cluster=True)
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="even while scaled above 0")
