"""One container definition: each field Shoal acts on, checked and normalised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shoal.taskdef.fields import (
    CAPABILITIES,
    CONTAINER_FIELDS,
    CONTAINER_UNSUPPORTED,
    DEPENDENCY_CONDITIONS,
    HEALTHCHECK_KINDS,
    INT32_MAX,
    MAX_CONTAINERS,
    MAX_CPU_UNITS,
    ULIMIT_NAMES,
    key_path,
)
from shoal.taskdef.values import absolute_path, container_memory, string_list, string_map
from shoal.taskdef.walk import Walk
from shoal.validation import (
    MAX_TASKDEF_BYTES,
    ValidationError,
    check_env_name,
    check_image,
    check_name,
    check_port,
    expect_bool,
    expect_int,
    expect_list,
    expect_object,
    expect_string,
    quote,
    show,
)


def _optional(c: dict[str, Any], cf: str, out: dict[str, Any], checks: dict[str, Callable[[Any, str], Any]]) -> None:
    """Each field of ``checks`` that the container sets (not null), checked at its path."""
    for key, check in checks.items():
        if c.get(key) is not None:
            out[key] = check(c[key], f"{cf}.{key}")


class ContainerParser(Walk):
    """The container-level half of the walk."""

    def container(self, item: Any, cf: str, declared_mode: str, ports: dict[tuple[int, str], str]) -> dict[str, Any]:
        c = expect_object(item, cf)
        self.check_keys(c, cf, CONTAINER_FIELDS, CONTAINER_UNSUPPORTED)
        out: dict[str, Any] = {
            "name": check_name(self.required(c, cf, "name", CONTAINER_FIELDS), f"{cf}.name"),
            "image": check_image(self.required(c, cf, "image", CONTAINER_FIELDS), f"{cf}.image"),
        }
        if c.get("cpu") is not None:
            out["cpu"] = expect_int(
                c["cpu"],
                f"{cf}.cpu",
                0,
                MAX_CPU_UNITS,
                what=f"a whole number of CPU units from 0 to {MAX_CPU_UNITS} (1024 = 1 vCPU)",
            )
        for key in ("memory", "memoryReservation"):
            if c.get(key) is not None:
                out[key] = container_memory(c[key], f"{cf}.{key}")
        if "memory" in out and "memoryReservation" in out and out["memoryReservation"] > out["memory"]:
            raise ValidationError(
                f"{cf}.memoryReservation",
                f"must not exceed memory ({out['memory']} MiB), got {out['memoryReservation']}",
            )
        if c.get("portMappings") is not None:
            out["portMappings"] = self.port_mappings(c["portMappings"], f"{cf}.portMappings", declared_mode, ports)
        out["essential"] = expect_bool(c["essential"], f"{cf}.essential") if c.get("essential") is not None else True
        for key in ("command", "entryPoint"):
            if c.get(key) is not None:
                out[key] = string_list(c[key], f"{cf}.{key}")
        if c.get("environment") is not None:
            out["environment"] = self.environment(c["environment"], f"{cf}.environment")
        for key in ("workingDirectory", "user", "hostname"):
            if c.get(key) is not None:
                out[key] = expect_string(c[key], f"{cf}.{key}", max_len=255)
        if c.get("healthCheck") is not None:
            out["healthCheck"] = self.health_check(c["healthCheck"], f"{cf}.healthCheck")
        if c.get("stopTimeout") is not None:
            out["stopTimeout"] = expect_int(
                c["stopTimeout"], f"{cf}.stopTimeout", 0, 120, what="a number of seconds from 0 to 120"
            )
        if c.get("startTimeout") is not None:
            out["startTimeout"] = expect_int(
                c["startTimeout"], f"{cf}.startTimeout", 2, 3600, what="a number of seconds from 2 to 3600"
            )
        _optional(c, cf, out, {
            "dependsOn": self.depends_on, "mountPoints": self.mount_points, "volumesFrom": self.volumes_from,
            "secrets": self.secrets, "privileged": expect_bool, "readonlyRootFilesystem": expect_bool,
            "repositoryCredentials": self.repository_credentials,
        })
        if c.get("dockerLabels") is not None:
            out["dockerLabels"] = string_map(c["dockerLabels"], f"{cf}.dockerLabels")
            for key in out["dockerLabels"]:
                # The agent finds and adopts its containers by these labels.
                if key.startswith("shoal."):
                    raise ValidationError(
                        key_path(f"{cf}.dockerLabels", key), "labels starting with 'shoal.' are reserved for Shoal"
                    )
        _optional(c, cf, out, {
            "ulimits": self.ulimits, "linuxParameters": self.linux_parameters, "restartPolicy": self.restart_policy,
        })
        return out

    def port_mappings(
        self, value: Any, field: str, declared_mode: str, ports: dict[tuple[int, str], str]
    ) -> list[dict[str, Any]]:
        items = expect_list(value, field, max_items=100)
        if items and declared_mode == "none":
            raise ValidationError(field, "networkMode none allows no port mappings")
        known = frozenset({"containerPort", "hostPort", "protocol", "name"})
        out = []
        for i, item in enumerate(items):
            pf = f"{field}[{i}]"
            pm = expect_object(item, pf)
            self.check_keys(pm, pf, known, frozenset({"appProtocol", "containerPortRange", "hostPortRange"}))
            if pm.get("containerPort") is None and pm.get("containerPortRange") is not None:
                raise ValidationError(f"{pf}.containerPort", "required (port ranges are not supported on Shoal)")
            container_port = check_port(self.required(pm, pf, "containerPort", known), f"{pf}.containerPort")
            host_port = 0
            if pm.get("hostPort") is not None:
                host_port = expect_int(
                    pm["hostPort"], f"{pf}.hostPort", 0, 65535, what="a port number from 0 to 65535 (0 = dynamic)"
                )
            if declared_mode in ("host", "awsvpc") and host_port not in (0, container_port):
                raise ValidationError(
                    f"{pf}.hostPort",
                    f"in {declared_mode} network mode hostPort must equal containerPort ({container_port}) "
                    f"or be left out, got {host_port}",
                )
            if declared_mode == "host":
                host_port = container_port
            elif declared_mode == "awsvpc":
                host_port = 0
            protocol = pm.get("protocol")
            if protocol is None:
                protocol = "tcp"
            elif not isinstance(protocol, str) or protocol.lower() not in ("tcp", "udp"):
                raise ValidationError(f"{pf}.protocol", f"must be tcp or udp, got {show(protocol)}")
            protocol = protocol.lower()
            if host_port:
                taken = ports.get((host_port, protocol))
                if taken:
                    raise ValidationError(
                        f"{pf}.hostPort", f"host port {host_port}/{protocol} is already mapped by {taken}"
                    )
                ports[(host_port, protocol)] = pf
            entry: dict[str, Any] = {"containerPort": container_port, "hostPort": host_port, "protocol": protocol}
            if pm.get("name") is not None:
                entry["name"] = expect_string(pm["name"], f"{pf}.name", max_len=255)
            out.append(entry)
        return out

    def environment(self, value: Any, field: str) -> list[dict[str, str]]:
        out = []
        seen: set[str] = set()
        known = frozenset({"name", "value"})
        for ef, pair in self.items(value, field, 1000, known):
            name = check_env_name(self.required(pair, ef, "name", known), f"{ef}.name")
            raw = pair.get("value")
            if raw is not None and not isinstance(raw, str):
                raise ValidationError(f"{ef}.value", f"must be a string (quote numbers and booleans), got {show(raw)}")
            text = expect_string(raw, f"{ef}.value", max_len=MAX_TASKDEF_BYTES) if raw is not None else ""
            if name in seen:
                self.warn(f"{ef}.name: {name} is set more than once; the last value wins")
            seen.add(name)
            out.append({"name": name, "value": text})
        return out

    def health_check(self, value: Any, field: str) -> dict[str, Any]:
        hc = expect_object(value, field)
        known = frozenset({"command", "interval", "timeout", "retries", "startPeriod"})
        self.check_keys(hc, field, known)
        command = string_list(self.required(hc, field, "command", known), f"{field}.command")
        if not command or command[0] not in HEALTHCHECK_KINDS:
            got = show(command[0]) if command else "an empty list"
            raise ValidationError(f"{field}.command", f"must start with CMD, CMD-SHELL or NONE, got {got}")
        if command[0] != "NONE" and len(command) < 2:
            raise ValidationError(f"{field}.command", f"{command[0]} must be followed by the command to run")
        # ECS's ranges and defaults, filled in so the agent need not know them.
        limits = {"interval": (5, 300, 30), "timeout": (2, 60, 5), "retries": (1, 10, 3), "startPeriod": (0, 300, 0)}
        out: dict[str, Any] = {"command": command}
        for key, (lo, hi, default) in limits.items():
            unit = "" if key == "retries" else " seconds"
            raw = hc.get(key)
            out[key] = (
                default
                if raw is None
                else expect_int(raw, f"{field}.{key}", lo, hi, what=f"a whole number{unit} from {lo} to {hi}")
            )
        return out

    def depends_on(self, value: Any, field: str) -> list[dict[str, str]]:
        out = []
        known = frozenset({"containerName", "condition"})
        for df, dep in self.items(value, field, MAX_CONTAINERS, known):
            name = check_name(self.required(dep, df, "containerName", known), f"{df}.containerName")
            condition = self.required(dep, df, "condition", known)
            if condition not in DEPENDENCY_CONDITIONS:
                raise ValidationError(
                    f"{df}.condition", f"must be one of {', '.join(DEPENDENCY_CONDITIONS)}, got {show(condition)}"
                )
            out.append({"containerName": name, "condition": condition})
        return out

    def mount_points(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        known = frozenset({"sourceVolume", "containerPath", "readOnly"})
        for mf, mp in self.items(value, field, 100, known):
            entry: dict[str, Any] = {
                "sourceVolume": check_name(self.required(mp, mf, "sourceVolume", known), f"{mf}.sourceVolume"),
                "containerPath": absolute_path(self.required(mp, mf, "containerPath", known), f"{mf}.containerPath"),
                "readOnly": expect_bool(mp["readOnly"], f"{mf}.readOnly") if mp.get("readOnly") is not None else False,
            }
            out.append(entry)
        return out

    def volumes_from(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        known = frozenset({"sourceContainer", "readOnly"})
        for vf, entry in self.items(value, field, MAX_CONTAINERS, known):
            out.append(
                {
                    "sourceContainer": check_name(
                        self.required(entry, vf, "sourceContainer", known), f"{vf}.sourceContainer"
                    ),
                    "readOnly": expect_bool(entry["readOnly"], f"{vf}.readOnly")
                    if entry.get("readOnly") is not None
                    else False,
                }
            )
        return out

    def secrets(self, value: Any, field: str) -> list[dict[str, str]]:
        out = []
        known = frozenset({"name", "valueFrom"})
        for sf, secret in self.items(value, field, 1000, known):
            name = check_env_name(self.required(secret, sf, "name", known), f"{sf}.name")
            # A Shoal secret's name or an ARN: resolved when the task starts, kept as written.
            source = expect_string(
                self.required(secret, sf, "valueFrom", known), f"{sf}.valueFrom", max_len=2048, allow_empty=False
            )
            out.append({"name": name, "valueFrom": source})
        return out

    def repository_credentials(self, value: Any, field: str) -> dict[str, str]:
        # The Shoal secret holding {"username": ..., "password": ...} for the image's registry,
        # read by the control plane for the node that pulls (kept in sourceJson).
        c = expect_object(value, field)
        known = frozenset({"credentialsParameter"})
        self.check_keys(c, field, known, frozenset())
        name = expect_string(self.required(c, field, "credentialsParameter", known), f"{field}.credentialsParameter",
                             max_len=2048, allow_empty=False)
        return {"credentialsParameter": name}

    def ulimits(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        seen: set[str] = set()
        known = frozenset({"name", "softLimit", "hardLimit"})
        for uf, limit in self.items(value, field, len(ULIMIT_NAMES), known):
            name = self.required(limit, uf, "name", known)
            if not isinstance(name, str) or name not in ULIMIT_NAMES:
                raise ValidationError(
                    f"{uf}.name", f"must be one of {', '.join(sorted(ULIMIT_NAMES))}, got {show(name)}"
                )
            if name in seen:
                raise ValidationError(f"{uf}.name", f"duplicate ulimit {name}")
            seen.add(name)
            soft = expect_int(self.required(limit, uf, "softLimit", known), f"{uf}.softLimit", 0, INT32_MAX)
            hard = expect_int(self.required(limit, uf, "hardLimit", known), f"{uf}.hardLimit", 0, INT32_MAX)
            if soft > hard:
                raise ValidationError(f"{uf}.softLimit", f"must not exceed hardLimit ({hard}), got {soft}")
            out.append({"name": name, "softLimit": soft, "hardLimit": hard})
        return out

    def linux_parameters(self, value: Any, field: str) -> dict[str, Any]:
        params = expect_object(value, field)
        self.check_keys(
            params,
            field,
            frozenset({"initProcessEnabled", "capabilities"}),
            frozenset({"devices", "sharedMemorySize", "tmpfs", "maxSwap", "swappiness"}),
        )
        out: dict[str, Any] = {}
        if params.get("initProcessEnabled") is not None:
            out["initProcessEnabled"] = expect_bool(params["initProcessEnabled"], f"{field}.initProcessEnabled")
        if params.get("capabilities") is not None:
            cf = f"{field}.capabilities"
            caps = expect_object(params["capabilities"], cf)
            self.check_keys(caps, cf, frozenset({"add", "drop"}))
            out["capabilities"] = {}
            for key in ("add", "drop"):
                if caps.get(key) is None:
                    continue
                names = string_list(caps[key], f"{cf}.{key}", max_items=len(CAPABILITIES))
                for i, name in enumerate(names):
                    if name.upper().removeprefix("CAP_") not in CAPABILITIES:
                        raise ValidationError(f"{cf}.{key}[{i}]", f"unknown Linux capability {quote(name)}")
                out["capabilities"][key] = names
        return out

    def restart_policy(self, value: Any, field: str) -> dict[str, Any]:
        policy = expect_object(value, field)
        known = frozenset({"enabled", "ignoredExitCodes", "restartAttemptPeriod"})
        self.check_keys(policy, field, known)
        out: dict[str, Any] = {
            "enabled": expect_bool(self.required(policy, field, "enabled", known), f"{field}.enabled")
        }
        if policy.get("ignoredExitCodes") is not None:
            codes = expect_list(policy["ignoredExitCodes"], f"{field}.ignoredExitCodes", max_items=50)
            out["ignoredExitCodes"] = [
                expect_int(code, f"{field}.ignoredExitCodes[{i}]", 0, 255, what="an exit code from 0 to 255")
                for i, code in enumerate(codes)
            ]
        if policy.get("restartAttemptPeriod") is not None:
            out["restartAttemptPeriod"] = expect_int(
                policy["restartAttemptPeriod"],
                f"{field}.restartAttemptPeriod",
                60,
                1800,
                what="a number of seconds from 60 to 1800",
            )
        return out
