"""The task level of a definition: family, network mode, cpu and memory, volumes, placement
constraints, tags, and its containers (checked one by one, then together)."""

from __future__ import annotations

from typing import Any

from shoal import filesystems
from shoal.taskdef.containers import ContainerParser
from shoal.taskdef.fields import (
    COMPATIBILITIES,
    MAX_CONTAINERS,
    MAX_PLACEMENT_CONSTRAINTS,
    MAX_TAGS,
    MAX_VOLUMES,
    NETWORK_MODES,
    ROLE_ARN,
    TASK_FIELDS,
    TASK_OUTPUT_ONLY,
    TASK_UNSUPPORTED,
    WHY_NOT,
    join,
)
from shoal.taskdef.rules import check_containers
from shoal.taskdef.values import absolute_path, string_map, task_cpu, task_memory
from shoal.validation import (
    ValidationError,
    check_name,
    expect_bool,
    expect_list,
    expect_object,
    expect_string,
    quote,
    show,
)


class TaskParser(ContainerParser):
    """The whole walk: the task level, then each container."""

    def task(self, doc: dict[str, Any], base: str) -> dict[str, Any]:
        self.check_keys(doc, base, TASK_FIELDS, TASK_UNSUPPORTED, TASK_OUTPUT_ONLY)
        out: dict[str, Any] = {}
        out["family"] = check_name(self.required(doc, base, "family", TASK_FIELDS), join(base, "family"))
        mode, declared_mode = self.network_mode(doc.get("networkMode"), join(base, "networkMode"))
        out["networkMode"] = mode
        if doc.get("cpu") is not None:
            out["cpu"] = task_cpu(doc["cpu"], join(base, "cpu"))
        if doc.get("memory") is not None:
            out["memory"] = task_memory(doc["memory"], join(base, "memory"))
        volumes: list[dict[str, Any]] = []
        if doc.get("volumes") is not None:
            volumes = self.volumes(doc["volumes"], join(base, "volumes"))
        out["volumes"] = volumes
        cf = join(base, "containerDefinitions")
        items = expect_list(self.required(doc, base, "containerDefinitions", TASK_FIELDS), cf, max_items=MAX_CONTAINERS)
        if not items:
            raise ValidationError(cf, "must hold at least one container definition")
        ports: dict[tuple[int, str], str] = {}
        containers = [self.container(item, f"{cf}[{i}]", declared_mode, ports) for i, item in enumerate(items)]
        check_containers(containers, cf, {v["name"] for v in volumes}, out, base)
        out["containerDefinitions"] = containers
        if doc.get("placementConstraints") is not None:
            out["placementConstraints"] = self.placement_constraints(
                doc["placementConstraints"], join(base, "placementConstraints")
            )
        if doc.get("requiresCompatibilities") is not None:
            out["requiresCompatibilities"] = self.compatibilities(
                doc["requiresCompatibilities"], join(base, "requiresCompatibilities")
            )
        for key in ("executionRoleArn", "taskRoleArn"):
            if doc.get(key) is not None:
                out[key] = expect_string(doc[key], join(base, key), max_len=2048)
                if out[key] and not ROLE_ARN.fullmatch(out[key]):
                    raise ValidationError(join(base, key), "must be a role ARN (arn:aws:iam::ACCOUNT:role/NAME) "
                                                           f"or a role name, got {quote(out[key][:80])}")
        if doc.get("tags") is not None:
            out["tags"] = self.tags(doc["tags"], join(base, "tags"))
        return out

    def network_mode(self, value: Any, field: str) -> tuple[str, str]:
        """(the mode Shoal runs, the mode the document declares)."""
        if value is None:
            return "bridge", "bridge"
        expect_string(value, field, max_len=64)
        if value == "awsvpc":
            # ECS JSON written for Fargate says awsvpc; a task's own IP has no equivalent here, so
            # it runs on Docker's bridge with dynamic host ports (no two tasks fight over a port).
            self.warn(
                f"{field}: awsvpc is not supported on Shoal; the task runs in bridge mode "
                "and its port mappings get dynamic host ports"
            )
            return "bridge", "awsvpc"
        if value not in NETWORK_MODES:
            raise ValidationError(
                field, f"must be one of bridge, host, none (awsvpc is accepted and runs as bridge), got {show(value)}"
            )
        return value, value

    def compatibilities(self, value: Any, field: str) -> list[str]:
        items = expect_list(value, field, max_items=len(COMPATIBILITIES))
        for i, item in enumerate(items):
            if item not in COMPATIBILITIES:
                raise ValidationError(f"{field}[{i}]", f"must be one of {', '.join(COMPATIBILITIES)}, got {show(item)}")
        if items:
            self.warn(f"{field}: kept but not acted on by Shoal ({WHY_NOT['requiresCompatibilities']})")
        return list(items)

    def volumes(self, value: Any, field: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        known = frozenset({"name", "host", "dockerVolumeConfiguration", "efsVolumeConfiguration"})
        unsupported = frozenset({"fsxWindowsFileServerVolumeConfiguration", "configuredAtLaunch"})
        for vf, vol in self.items(value, field, MAX_VOLUMES, known, unsupported):
            name = check_name(self.required(vol, vf, "name", known), f"{vf}.name")
            if name in seen:
                raise ValidationError(f"{vf}.name", f"duplicate volume name {quote(name)}")
            seen.add(name)
            entry: dict[str, Any] = {"name": name}
            kinds = [k for k in ("host", "dockerVolumeConfiguration", "efsVolumeConfiguration")
                     if vol.get(k) is not None]
            if len(kinds) > 1:
                raise ValidationError(vf, f"give one of host, dockerVolumeConfiguration, efsVolumeConfiguration, "
                                          f"not {' and '.join(kinds)}")
            if vol.get("host") is not None:
                entry["host"] = self.host_volume(vol["host"], f"{vf}.host")
            if vol.get("dockerVolumeConfiguration") is not None:
                entry["dockerVolumeConfiguration"] = self.docker_volume(
                    vol["dockerVolumeConfiguration"], f"{vf}.dockerVolumeConfiguration"
                )
            if vol.get("efsVolumeConfiguration") is not None:
                entry["efsVolumeConfiguration"] = self.efs_volume(
                    vol["efsVolumeConfiguration"], f"{vf}.efsVolumeConfiguration"
                )
            out.append(entry)
        return out

    def efs_volume(self, value: Any, field: str) -> dict[str, Any]:
        """fileSystemId names a file system an operator registered (`shoal fs create`; the control
        plane resolves it); everything the mount needs comes from that record, never from here."""
        conf = expect_object(value, field)
        known = frozenset({"fileSystemId", "rootDirectory", "transitEncryption"})
        refused = {
            "transitEncryptionPort": "Shoal does not encrypt NFS traffic (transitEncryption is DISABLED only)",
            "authorizationConfig": "EFS access points and IAM authorization have no equivalent on Shoal; "
                                   "the file system's export decides who may mount it",
        }
        for key, why in refused.items():
            if conf.get(key) is not None:
                raise ValidationError(f"{field}.{key}", why)
        self.check_keys(conf, field, known)
        fs_id = filesystems.check_name(expect_string(self.required(conf, field, "fileSystemId", known),
                                                     f"{field}.fileSystemId", max_len=128), f"{field}.fileSystemId")
        out: dict[str, Any] = {"fileSystemId": fs_id}
        if conf.get("rootDirectory") is not None:
            raw = expect_string(conf["rootDirectory"], f"{field}.rootDirectory", max_len=4096)
            out["rootDirectory"] = filesystems.root_directory(raw, f"{field}.rootDirectory")
        if conf.get("transitEncryption") is not None:
            mode = conf["transitEncryption"]
            if mode == "ENABLED":
                raise ValidationError(f"{field}.transitEncryption", "Shoal does not encrypt NFS traffic; "
                                                                    "only DISABLED is supported")
            if mode != "DISABLED":
                raise ValidationError(f"{field}.transitEncryption", f"must be ENABLED or DISABLED, got {show(mode)}")
            out["transitEncryption"] = mode
        return out

    def host_volume(self, value: Any, field: str) -> dict[str, Any]:
        host = expect_object(value, field)
        self.check_keys(host, field, frozenset({"sourcePath"}))
        if host.get("sourcePath") is None:
            return {}
        path = absolute_path(host["sourcePath"], f"{field}.sourcePath")
        return {"sourcePath": path}

    def docker_volume(self, value: Any, field: str) -> dict[str, Any]:
        conf = expect_object(value, field)
        self.check_keys(conf, field, frozenset({"scope", "autoprovision", "driver", "driverOpts", "labels"}))
        out: dict[str, Any] = {}
        scope = conf.get("scope")
        if scope is not None:
            if scope not in ("task", "shared"):
                raise ValidationError(f"{field}.scope", f"must be task or shared, got {show(scope)}")
            out["scope"] = scope
        if conf.get("autoprovision") is not None:
            out["autoprovision"] = expect_bool(conf["autoprovision"], f"{field}.autoprovision")
            if out["autoprovision"] and scope != "shared":
                raise ValidationError(f"{field}.autoprovision", "only applies when scope is shared (ECS rule)")
        if conf.get("driver") is not None:
            out["driver"] = expect_string(conf["driver"], f"{field}.driver", max_len=255, allow_empty=False)
        for key in ("driverOpts", "labels"):
            if conf.get(key) is not None:
                out[key] = string_map(conf[key], f"{field}.{key}")
        return out

    def placement_constraints(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        known = frozenset({"type", "expression"})
        for pf, constraint in self.items(value, field, MAX_PLACEMENT_CONSTRAINTS, known):
            kind = self.required(constraint, pf, "type", known)
            if kind not in ("memberOf", "distinctInstance"):
                raise ValidationError(f"{pf}.type", f"must be memberOf or distinctInstance, got {show(kind)}")
            entry = {"type": kind}
            expression = constraint.get("expression")
            if kind == "memberOf":
                # The Cluster Query Language is checked where placement parses it.
                entry["expression"] = expect_string(
                    self.required(constraint, pf, "expression", known),
                    f"{pf}.expression",
                    max_len=2000,
                    allow_empty=False,
                )
            elif expression:
                raise ValidationError(f"{pf}.expression", "distinctInstance takes no expression")
            out.append(entry)
        return out

    def tags(self, value: Any, field: str) -> list[dict[str, str]]:
        out = []
        seen: set[str] = set()
        known = frozenset({"key", "value"})
        for tf, tag in self.items(value, field, MAX_TAGS, known):
            key = expect_string(self.required(tag, tf, "key", known), f"{tf}.key", max_len=128, allow_empty=False)
            if key.lower().startswith("aws:"):
                raise ValidationError(f"{tf}.key", "keys starting with aws: are reserved")
            if key in seen:
                raise ValidationError(f"{tf}.key", f"duplicate tag key {quote(key)}")
            seen.add(key)
            raw = tag.get("value")
            out.append({"key": key, "value": "" if raw is None else expect_string(raw, f"{tf}.value", max_len=256)})
        return out

    # --- container ---
