"""An ECS task definition JSON document (what `aws ecs register-task-definition
--cli-input-json` takes) parsed into Shoal's TaskDefinition message: every field Shoal acts on
is validated, every field it does not act on is kept (in source_json) and reported as a
warning, and any bad input raises ValidationError naming the field in ECS JSON terms."""

from __future__ import annotations

import difflib
import itertools
import json
import re
from decimal import Decimal
from typing import Any

from google.protobuf import json_format

from shoal.v1 import resources_pb2
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

DOCUMENT = "taskDefinition"
MAX_CONTAINERS = 10
MAX_CPU_UNITS = 10 * 1024 * 1024
MAX_MEMORY_MIB = 10 * 1024 * 1024
# Docker refuses a memory limit under 6 MiB; catching it here beats a task that never starts.
MIN_CONTAINER_MEMORY_MIB = 6
MAX_VOLUMES = 100
MAX_PLACEMENT_CONSTRAINTS = 10
MAX_TAGS = 50
# A hostile document can hold thousands of unknown keys; the warnings are stored with it.
MAX_WARNINGS = 100
INT32_MAX = 2**31 - 1


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NETWORK_MODES = ("bridge", "host", "none")
COMPATIBILITIES = ("EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES")
DEPENDENCY_CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
HEALTHCHECK_KINDS = ("CMD", "CMD-SHELL", "NONE")
# The ulimit names ECS accepts, which are Linux's RLIMIT_* resources.
ULIMIT_NAMES = _words(
    """
    core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack
    """
)
CAPABILITIES = _words(
    """
    ALL AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE
    DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN
    MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID
    SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO
    SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM
    """
)

TASK_FIELDS = _words(
    """
    family containerDefinitions cpu memory networkMode volumes placementConstraints
    requiresCompatibilities executionRoleArn taskRoleArn tags
    """
)
TASK_UNSUPPORTED = _words(
    """
    pidMode ipcMode proxyConfiguration inferenceAccelerators ephemeralStorage runtimePlatform
    enableFaultInjection
    """
)
# What describe-task-definition returns on top of what was registered.
TASK_OUTPUT_ONLY = _words(
    """
    taskDefinitionArn revision status requiresAttributes compatibilities registeredAt registeredBy
    deregisteredAt deleteRequestedAt
    """
)
CONTAINER_FIELDS = _words(
    """
    name image cpu memory memoryReservation portMappings essential command entryPoint environment
    workingDirectory healthCheck stopTimeout dependsOn mountPoints volumesFrom secrets privileged
    user dockerLabels ulimits linuxParameters restartPolicy hostname readonlyRootFilesystem startTimeout
    """
)
CONTAINER_UNSUPPORTED = _words(
    """
    logConfiguration repositoryCredentials firelensConfiguration links dnsServers dnsSearchDomains
    extraHosts dockerSecurityOptions interactive pseudoTerminal systemControls resourceRequirements
    disableNetworking environmentFiles credentialSpecs versionConsistency
    """
)
_WHY_NOT = {
    "executionRoleArn": "Shoal has no IAM; nodes pull images and secrets come from Shoal",
    "taskRoleArn": "Shoal has no IAM",
    "requiresCompatibilities": "tasks run on the cluster's own nodes",
    "logConfiguration": "containers log through Docker's default driver on their node",
    "links": "containers of a task reach each other through published ports",
    "repositoryCredentials": "images must already be present on the node or pullable without credentials",
}


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def _key_path(base: str, key: str) -> str:
    """A map entry's path; odd keys are quoted so a hostile key cannot forge a path."""
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", key):
        return f"{base}.{key}"
    return f"{base}[{quote(key)}]"


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


def _suggest(key: str, candidates: frozenset[str]) -> str | None:
    if len(key) > 64:
        return None
    for candidate in candidates:
        if _squash(candidate) == _squash(key):
            return candidate
    close = difflib.get_close_matches(key, sorted(candidates), n=1, cutoff=0.75)
    return close[0] if close else None


# --- the document ------------------------------------------------------------------------


class _Refused(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                # Parsers disagree on which duplicate wins; refusing keeps one meaning.
                raise _Refused(f"duplicate key {quote(key)} in one JSON object")
            seen.add(key)
    return obj


def _decode(text: Any) -> str:
    limit = f"the limit is {MAX_TASKDEF_BYTES} bytes (64 KiB, as ECS)"
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        if len(data) > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is {len(data)} bytes; {limit}")
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(DOCUMENT, f"document is not UTF-8 (bad byte at offset {exc.start})") from None
    elif isinstance(text, str):
        # A character is at least one byte: a long string is refused before it is encoded.
        if len(text) > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is over {MAX_TASKDEF_BYTES} bytes; {limit}")
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValidationError(DOCUMENT, f"document holds invalid Unicode at character {exc.start}") from None
        if size > MAX_TASKDEF_BYTES:
            raise ValidationError(DOCUMENT, f"document is {size} bytes; {limit}")
        source = text
    else:
        raise ValidationError(DOCUMENT, f"must be JSON text, got {show(text)}")
    if not source.strip():
        raise ValidationError(DOCUMENT, "document is empty")
    return source


def _load(source: str) -> Any:
    try:
        return json.loads(
            source.removeprefix("\ufeff"), object_pairs_hook=_unique_keys, parse_constant=_reject_constant
        )
    except json.JSONDecodeError as exc:
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except _Refused as exc:
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc}") from None
    except RecursionError:
        raise ValidationError(DOCUMENT, "not valid JSON: nested too deeply") from None
    except ValueError as exc:
        # e.g. an integer literal with more digits than Python converts.
        raise ValidationError(DOCUMENT, f"not valid JSON: {exc}") from None


def parse_task_definition(
    text: str | bytes,
    *,
    allow_privileged: bool = False,
    allow_host_network: bool = False,
    allow_host_volumes: bool = False,
    allow_capabilities: bool = False,
) -> tuple[resources_pb2.TaskDefinition, list[str]]:
    """The TaskDefinition for an ECS JSON document (plain, or wrapped in {"taskDefinition": ...}
    as describe-task-definition prints it) and the warnings about what Shoal keeps without
    acting on. The allow_* flags are the cluster's policy for what can reach the host.
    Raises ValidationError, naming the field, for anything else."""
    source = _decode(text)
    doc = _load(source)
    if not isinstance(doc, dict):
        raise ValidationError(DOCUMENT, f"the document must be a JSON object, got {show(doc)}")
    parser = _Parser(
        allow_privileged=allow_privileged,
        allow_host_network=allow_host_network,
        allow_host_volumes=allow_host_volumes,
        allow_capabilities=allow_capabilities,
    )
    base = ""
    outer_tags: Any = None
    if DOCUMENT in doc and "containerDefinitions" not in doc:
        parser.check_keys(doc, "", frozenset({DOCUMENT, "tags"}))
        outer_tags = doc.get("tags")
        doc = expect_object(doc[DOCUMENT], DOCUMENT)
        base = DOCUMENT
    normalised = parser.task(doc, base)
    if outer_tags is not None and "tags" not in normalised:
        normalised["tags"] = parser.tags(outer_tags, "tags")
    normalised["sourceJson"] = source
    try:
        td = json_format.ParseDict(normalised, resources_pb2.TaskDefinition(), ignore_unknown_fields=True)
    except Exception as exc:
        # Validation above should leave nothing for protobuf to refuse; if it does, the caller
        # still gets a ValidationError, never a protobuf exception.
        raise ValidationError(base or DOCUMENT, f"could not be stored: {exc}") from None
    return td, parser.warnings


_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]*:[0-9]*:task-definition/(.+)")


def parse_task_definition_ref(text: str) -> tuple[str, int | None]:
    """(family, revision) for a reference as ECS takes one: "family" (revision None),
    "family:3", or "arn:aws:ecs:<region>:<account>:task-definition/family:3"."""
    field = DOCUMENT
    if not isinstance(text, str):
        raise ValidationError(field, f"must be a family, family:revision or ARN, got {show(text)}")
    if not text:
        raise ValidationError(field, "required")
    if len(text) > 1600:
        raise ValidationError(field, f"is {len(text)} characters; a reference is at most 1600")
    body = text
    if text.startswith("arn:"):
        match = _ARN.fullmatch(text)
        if not match:
            raise ValidationError(
                field,
                f"{quote(text)} is not a task definition ARN "
                "(arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>)",
            )
        body = match.group(1)
    family, sep, revision = body.partition(":")
    try:
        check_name(family, field)
    except ValidationError:
        raise ValidationError(
            field, f"{quote(text)} is not family, family:revision or an ARN (a family is letters, digits, - and _)"
        ) from None
    if not sep:
        return family, None
    if not re.fullmatch(r"[0-9]{1,10}", revision) or not 1 <= int(revision) <= INT32_MAX:
        raise ValidationError(field, f"revision must be a positive integer, got {quote(revision)}")
    return family, int(revision)


# --- task-level cpu and memory -------------------------------------------------------------

_NUMBER = r"([0-9]{1,9}(?:\.[0-9]{1,6})?|\.[0-9]{1,6})"
_CPU_TEXT = re.compile(rf"\s*{_NUMBER}\s*(vcpus?)?\s*", re.IGNORECASE)
_MEMORY_TEXT = re.compile(rf"\s*{_NUMBER}\s*(mib|mb|gib|gb)?\s*", re.IGNORECASE)


def _whole(number: Decimal) -> int | None:
    return int(number) if number == number.to_integral_value() else None


def task_cpu(value: Any, field: str = "cpu") -> str:
    """Task-level CPU as ECS writes it (512, "512", "1 vCPU", "0.5 vcpu") -> CPU units as an
    integer string (1024 units = 1 vCPU)."""
    what = f'CPU units from 1 to {MAX_CPU_UNITS} (e.g. 256 or "256") or vCPUs (e.g. "0.25 vCPU")'
    if isinstance(value, str):
        match = _CPU_TEXT.fullmatch(value)
        if not match:
            raise ValidationError(field, f"must be {what}, got {show(value)}")
        number = Decimal(match.group(1))
        units = int((number * 1024).to_integral_value()) if match.group(2) else _whole(number)
        if units is None:
            raise ValidationError(field, f"CPU units must be a whole number, got {show(value)}")
        value = units
    return str(expect_int(value, field, 1, MAX_CPU_UNITS, what=what))


def task_memory(value: Any, field: str = "memory") -> str:
    """Task-level memory as ECS writes it (1024, "1024", "1GB", "2 GB", "512 MiB") -> MiB as
    an integer string. ECS's GB is 1024 MiB."""
    what = f'MiB from 1 to {MAX_MEMORY_MIB} (e.g. 512 or "512") or GB (e.g. "2 GB")'
    if isinstance(value, str):
        match = _MEMORY_TEXT.fullmatch(value)
        if not match:
            raise ValidationError(field, f"must be {what}, got {show(value)}")
        number = Decimal(match.group(1))
        unit = (match.group(2) or "mib").lower()
        mib = int((number * 1024).to_integral_value()) if unit in ("gb", "gib") else _whole(number)
        if mib is None:
            raise ValidationError(field, f"memory must be a whole number of MiB, got {show(value)}")
        value = mib
    return str(expect_int(value, field, 1, MAX_MEMORY_MIB, what=what))


# --- the parser ----------------------------------------------------------------------------


class _Parser:
    """One document's walk: collects warnings and turns ECS JSON into the normalised dict
    (camelCase, proto3 JSON mapping) the TaskDefinition message is built from."""

    def __init__(
        self, *, allow_privileged: bool, allow_host_network: bool, allow_host_volumes: bool, allow_capabilities: bool
    ) -> None:
        self.allow_privileged = allow_privileged
        self.allow_host_network = allow_host_network
        self.allow_host_volumes = allow_host_volumes
        self.allow_capabilities = allow_capabilities
        self.warnings: list[str] = []
        self._dropped = 0

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
            return
        self._dropped += 1
        summary = f"... and {self._dropped} more warnings"
        if self._dropped == 1:
            self.warnings.append(summary)
        else:
            self.warnings[-1] = summary

    def check_keys(
        self,
        obj: dict[str, Any],
        base: str,
        known: frozenset[str],
        unsupported: frozenset[str] = frozenset(),
        output_only: frozenset[str] = frozenset(),
    ) -> None:
        """Warn about each key Shoal does not act on; the value stays in source_json."""
        for key in obj:
            if key in known:
                continue
            if key in unsupported:
                why = _WHY_NOT.get(key)
                self.warn(f"{_join(base, key)}: kept but not acted on by Shoal" + (f" ({why})" if why else ""))
            elif key in output_only:
                self.warn(f"{_join(base, key)}: assigned by Shoal at registration; the value given is ignored")
            else:
                # Past the cap the warning is only counted, so the suggestion is not worth its cost.
                close = _suggest(key, known | unsupported) if len(self.warnings) < MAX_WARNINGS else None
                hint = f" (did you mean {close!r}?)" if close else ""
                where = f"{base}: " if base else ""
                self.warn(f"{where}unknown field {quote(key)}{hint}; kept but not acted on by Shoal")

    @staticmethod
    def required(obj: dict[str, Any], base: str, key: str, known: frozenset[str]) -> Any:
        value = obj.get(key)
        if value is None:
            unknown = itertools.islice((k for k in obj if k not in known), MAX_WARNINGS)
            typo = next((k for k in unknown if _suggest(k, known) == key), None)
            hint = f" (found {quote(typo)}: a typo?)" if typo else ""
            raise ValidationError(_join(base, key), f"required{hint}")
        return value

    # --- task ---

    def task(self, doc: dict[str, Any], base: str) -> dict[str, Any]:
        self.check_keys(doc, base, TASK_FIELDS, TASK_UNSUPPORTED, TASK_OUTPUT_ONLY)
        out: dict[str, Any] = {}
        out["family"] = check_name(self.required(doc, base, "family", TASK_FIELDS), _join(base, "family"))
        mode, declared_mode = self.network_mode(doc.get("networkMode"), _join(base, "networkMode"))
        out["networkMode"] = mode
        if doc.get("cpu") is not None:
            out["cpu"] = task_cpu(doc["cpu"], _join(base, "cpu"))
        if doc.get("memory") is not None:
            out["memory"] = task_memory(doc["memory"], _join(base, "memory"))
        volumes: list[dict[str, Any]] = []
        if doc.get("volumes") is not None:
            volumes = self.volumes(doc["volumes"], _join(base, "volumes"))
        out["volumes"] = volumes
        cf = _join(base, "containerDefinitions")
        items = expect_list(self.required(doc, base, "containerDefinitions", TASK_FIELDS), cf, max_items=MAX_CONTAINERS)
        if not items:
            raise ValidationError(cf, "must hold at least one container definition")
        ports: dict[tuple[int, str], str] = {}
        containers = [self.container(item, f"{cf}[{i}]", declared_mode, ports) for i, item in enumerate(items)]
        _check_containers(containers, cf, {v["name"] for v in volumes}, out, base)
        out["containerDefinitions"] = containers
        if doc.get("placementConstraints") is not None:
            out["placementConstraints"] = self.placement_constraints(
                doc["placementConstraints"], _join(base, "placementConstraints")
            )
        if doc.get("requiresCompatibilities") is not None:
            out["requiresCompatibilities"] = self.compatibilities(
                doc["requiresCompatibilities"], _join(base, "requiresCompatibilities")
            )
        for key in ("executionRoleArn", "taskRoleArn"):
            if doc.get(key) is not None:
                out[key] = expect_string(doc[key], _join(base, key), max_len=2048)
                if out[key]:
                    self.warn(f"{_join(base, key)}: kept but not acted on by Shoal ({_WHY_NOT[key]})")
        if doc.get("tags") is not None:
            out["tags"] = self.tags(doc["tags"], _join(base, "tags"))
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
        if value == "host" and not self.allow_host_network:
            raise ValidationError(field, "host networking is not allowed on this cluster")
        return value, value

    def compatibilities(self, value: Any, field: str) -> list[str]:
        items = expect_list(value, field, max_items=len(COMPATIBILITIES))
        for i, item in enumerate(items):
            if item not in COMPATIBILITIES:
                raise ValidationError(f"{field}[{i}]", f"must be one of {', '.join(COMPATIBILITIES)}, got {show(item)}")
        if items:
            self.warn(f"{field}: kept but not acted on by Shoal ({_WHY_NOT['requiresCompatibilities']})")
        return list(items)

    def volumes(self, value: Any, field: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, item in enumerate(expect_list(value, field, max_items=MAX_VOLUMES)):
            vf = f"{field}[{i}]"
            vol = expect_object(item, vf)
            known = frozenset({"name", "host", "dockerVolumeConfiguration"})
            self.check_keys(
                vol,
                vf,
                known,
                frozenset({"efsVolumeConfiguration", "fsxWindowsFileServerVolumeConfiguration", "configuredAtLaunch"}),
            )
            name = check_name(self.required(vol, vf, "name", known), f"{vf}.name")
            if name in seen:
                raise ValidationError(f"{vf}.name", f"duplicate volume name {quote(name)}")
            seen.add(name)
            entry: dict[str, Any] = {"name": name}
            if vol.get("host") is not None and vol.get("dockerVolumeConfiguration") is not None:
                raise ValidationError(vf, "give host or dockerVolumeConfiguration, not both")
            if vol.get("host") is not None:
                entry["host"] = self.host_volume(vol["host"], f"{vf}.host")
            if vol.get("dockerVolumeConfiguration") is not None:
                entry["dockerVolumeConfiguration"] = self.docker_volume(
                    vol["dockerVolumeConfiguration"], f"{vf}.dockerVolumeConfiguration"
                )
            out.append(entry)
        return out

    def host_volume(self, value: Any, field: str) -> dict[str, Any]:
        host = expect_object(value, field)
        self.check_keys(host, field, frozenset({"sourcePath"}))
        if host.get("sourcePath") is None:
            return {}
        path = _absolute_path(host["sourcePath"], f"{field}.sourcePath")
        if not self.allow_host_volumes:
            raise ValidationError(
                f"{field}.sourcePath", "host volumes (bind mounts of a node's paths) are not allowed on this cluster"
            )
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
                out[key] = _string_map(conf[key], f"{field}.{key}")
        return out

    def placement_constraints(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(expect_list(value, field, max_items=MAX_PLACEMENT_CONSTRAINTS)):
            pf = f"{field}[{i}]"
            constraint = expect_object(item, pf)
            known = frozenset({"type", "expression"})
            self.check_keys(constraint, pf, known)
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
        for i, item in enumerate(expect_list(value, field, max_items=MAX_TAGS)):
            tf = f"{field}[{i}]"
            tag = expect_object(item, tf)
            known = frozenset({"key", "value"})
            self.check_keys(tag, tf, known)
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
                out[key] = _container_memory(c[key], f"{cf}.{key}")
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
                out[key] = _string_list(c[key], f"{cf}.{key}")
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
        if c.get("dependsOn") is not None:
            out["dependsOn"] = self.depends_on(c["dependsOn"], f"{cf}.dependsOn")
        if c.get("mountPoints") is not None:
            out["mountPoints"] = self.mount_points(c["mountPoints"], f"{cf}.mountPoints")
        if c.get("volumesFrom") is not None:
            out["volumesFrom"] = self.volumes_from(c["volumesFrom"], f"{cf}.volumesFrom")
        if c.get("secrets") is not None:
            out["secrets"] = self.secrets(c["secrets"], f"{cf}.secrets")
        if c.get("privileged") is not None:
            out["privileged"] = expect_bool(c["privileged"], f"{cf}.privileged")
            if out["privileged"] and not self.allow_privileged:
                raise ValidationError(f"{cf}.privileged", "privileged containers are not allowed on this cluster")
        if c.get("readonlyRootFilesystem") is not None:
            out["readonlyRootFilesystem"] = expect_bool(c["readonlyRootFilesystem"], f"{cf}.readonlyRootFilesystem")
        if c.get("dockerLabels") is not None:
            out["dockerLabels"] = _string_map(c["dockerLabels"], f"{cf}.dockerLabels")
            for key in out["dockerLabels"]:
                # The agent finds and adopts its containers by these labels.
                if key.startswith("shoal."):
                    raise ValidationError(
                        _key_path(f"{cf}.dockerLabels", key), "labels starting with 'shoal.' are reserved for Shoal"
                    )
        if c.get("ulimits") is not None:
            out["ulimits"] = self.ulimits(c["ulimits"], f"{cf}.ulimits")
        if c.get("linuxParameters") is not None:
            out["linuxParameters"] = self.linux_parameters(c["linuxParameters"], f"{cf}.linuxParameters")
        if c.get("restartPolicy") is not None:
            out["restartPolicy"] = self.restart_policy(c["restartPolicy"], f"{cf}.restartPolicy")
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
        for i, item in enumerate(expect_list(value, field, max_items=1000)):
            ef = f"{field}[{i}]"
            pair = expect_object(item, ef)
            self.check_keys(pair, ef, known)
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
        command = _string_list(self.required(hc, field, "command", known), f"{field}.command")
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
        for i, item in enumerate(expect_list(value, field, max_items=MAX_CONTAINERS)):
            df = f"{field}[{i}]"
            dep = expect_object(item, df)
            self.check_keys(dep, df, known)
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
        for i, item in enumerate(expect_list(value, field, max_items=100)):
            mf = f"{field}[{i}]"
            mp = expect_object(item, mf)
            self.check_keys(mp, mf, known)
            entry: dict[str, Any] = {
                "sourceVolume": check_name(self.required(mp, mf, "sourceVolume", known), f"{mf}.sourceVolume"),
                "containerPath": _absolute_path(self.required(mp, mf, "containerPath", known), f"{mf}.containerPath"),
                "readOnly": expect_bool(mp["readOnly"], f"{mf}.readOnly") if mp.get("readOnly") is not None else False,
            }
            out.append(entry)
        return out

    def volumes_from(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        known = frozenset({"sourceContainer", "readOnly"})
        for i, item in enumerate(expect_list(value, field, max_items=MAX_CONTAINERS)):
            vf = f"{field}[{i}]"
            entry = expect_object(item, vf)
            self.check_keys(entry, vf, known)
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
        for i, item in enumerate(expect_list(value, field, max_items=1000)):
            sf = f"{field}[{i}]"
            secret = expect_object(item, sf)
            self.check_keys(secret, sf, known)
            name = check_env_name(self.required(secret, sf, "name", known), f"{sf}.name")
            # A Shoal secret's name or an ARN: resolved when the task starts, kept as written.
            source = expect_string(
                self.required(secret, sf, "valueFrom", known), f"{sf}.valueFrom", max_len=2048, allow_empty=False
            )
            out.append({"name": name, "valueFrom": source})
        return out

    def ulimits(self, value: Any, field: str) -> list[dict[str, Any]]:
        out = []
        seen: set[str] = set()
        known = frozenset({"name", "softLimit", "hardLimit"})
        for i, item in enumerate(expect_list(value, field, max_items=len(ULIMIT_NAMES))):
            uf = f"{field}[{i}]"
            limit = expect_object(item, uf)
            self.check_keys(limit, uf, known)
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
                names = _string_list(caps[key], f"{cf}.{key}", max_items=len(CAPABILITIES))
                for i, name in enumerate(names):
                    if name.upper().removeprefix("CAP_") not in CAPABILITIES:
                        raise ValidationError(f"{cf}.{key}[{i}]", f"unknown Linux capability {quote(name)}")
                if key == "add" and names and not self.allow_capabilities:
                    raise ValidationError(f"{cf}.add", "adding kernel capabilities is not allowed on this cluster")
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


# --- rules across containers ----------------------------------------------------------------


def _check_containers(
    containers: list[dict[str, Any]], cf: str, volume_names: set[str], task: dict[str, Any], base: str
) -> None:
    index: dict[str, int] = {}
    for i, c in enumerate(containers):
        if c["name"] in index:
            raise ValidationError(
                f"{cf}[{i}].name", f"duplicate container name {quote(c['name'])} (also {cf}[{index[c['name']]}])"
            )
        index[c["name"]] = i
    task_memory_mib = int(task["memory"]) if "memory" in task else None
    reserved = 0
    for i, c in enumerate(containers):
        here = f"{cf}[{i}]"
        if task_memory_mib is None and "memory" not in c and "memoryReservation" not in c:
            raise ValidationError(
                f"{here}.memory",
                "required: give memory or memoryReservation (MiB) for each container, or a task-level memory",
            )
        for key in ("memory", "memoryReservation"):
            if task_memory_mib is not None and c.get(key, 0) > task_memory_mib:
                raise ValidationError(
                    f"{here}.{key}", f"{c[key]} MiB exceeds the task's memory ({task_memory_mib} MiB)"
                )
        reserved += c.get("memoryReservation", c.get("memory", 0))
        for j, mp in enumerate(c.get("mountPoints", [])):
            if mp["sourceVolume"] not in volume_names:
                raise ValidationError(
                    f"{here}.mountPoints[{j}].sourceVolume",
                    f"no volume named {quote(mp['sourceVolume'])} in volumes",
                )
        for j, vf in enumerate(c.get("volumesFrom", [])):
            source = vf["sourceContainer"]
            if source not in index or source == c["name"]:
                what = "itself" if source == c["name"] else f"no container named {quote(source)} in this task"
                raise ValidationError(f"{here}.volumesFrom[{j}].sourceContainer", f"refers to {what}")
        for j, dep in enumerate(c.get("dependsOn", [])):
            df = f"{here}.dependsOn[{j}]"
            target_name = dep["containerName"]
            if target_name == c["name"]:
                raise ValidationError(f"{df}.containerName", "a container cannot depend on itself")
            if target_name not in index:
                raise ValidationError(f"{df}.containerName", f"no container named {quote(target_name)} in this task")
            target = containers[index[target_name]]
            if dep["condition"] == "HEALTHY" and not _has_health_check(target):
                raise ValidationError(
                    f"{df}.condition", f"HEALTHY needs a healthCheck on container {quote(target_name)}"
                )
            if dep["condition"] in ("COMPLETE", "SUCCESS") and target["essential"]:
                raise ValidationError(
                    f"{df}.condition",
                    f"{dep['condition']} cannot wait on essential container {quote(target_name)}: "
                    "the task stops when it exits",
                )
    if task_memory_mib is not None and reserved > task_memory_mib:
        raise ValidationError(
            _join(base, "memory"),
            f"the containers reserve {reserved} MiB in all, more than the task's {task_memory_mib} MiB",
        )
    if "cpu" in task:
        total_cpu = sum(c.get("cpu", 0) for c in containers)
        if total_cpu > int(task["cpu"]):
            raise ValidationError(
                _join(base, "cpu"),
                f"the containers ask for {total_cpu} CPU units in all, more than the task's {task['cpu']}",
            )
    if not any(c["essential"] for c in containers):
        raise ValidationError(cf, "at least one container must be essential (essential defaults to true)")
    cycle = _dependency_cycle(containers)
    if cycle:
        raise ValidationError(f"{cf}[{index[cycle[0]]}].dependsOn", "dependency cycle: " + " -> ".join(cycle))


def _has_health_check(container: dict[str, Any]) -> bool:
    hc = container.get("healthCheck")
    return bool(hc) and hc["command"][0] != "NONE"


def _dependency_cycle(containers: list[dict[str, Any]]) -> list[str] | None:
    """The first cycle in dependsOn, as names from a container back to itself."""
    graph = {c["name"]: [d["containerName"] for d in c.get("dependsOn", [])] for c in containers}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> list[str] | None:
        if name in trail:
            return trail[trail.index(name) :] + [name]
        if name in done:
            return None
        for nxt in graph.get(name, []):
            found = visit(nxt, trail + [name])
            if found:
                return found
        done.add(name)
        return None

    for c in containers:
        found = visit(c["name"], [])
        if found:
            return found
    return None


# --- small value checks -----------------------------------------------------------------------


def _container_memory(value: Any, field: str) -> int:
    memory = expect_int(value, field, 1, 2**63, what="a positive integer (MiB)")
    if memory < MIN_CONTAINER_MEMORY_MIB:
        raise ValidationError(
            field, f"must be at least {MIN_CONTAINER_MEMORY_MIB} MiB (Docker's minimum), got {memory}"
        )
    if memory > MAX_MEMORY_MIB:
        raise ValidationError(field, f"must be at most {MAX_MEMORY_MIB} MiB, got {memory}")
    return memory


def _string_list(value: Any, field: str, *, max_items: int = 1000) -> list[str]:
    items = expect_list(value, field, max_items=max_items)
    return [expect_string(item, f"{field}[{i}]", max_len=MAX_TASKDEF_BYTES) for i, item in enumerate(items)]


def _string_map(value: Any, field: str) -> dict[str, str]:
    obj = expect_object(value, field)
    if len(obj) > 1000:
        raise ValidationError(field, f"at most 1000 entries are allowed, got {len(obj)}")
    out = {}
    for key, val in obj.items():
        path = _key_path(field, key)
        expect_string(key, path, max_len=255, allow_empty=False)
        out[key] = expect_string(val, path, max_len=MAX_TASKDEF_BYTES)
    return out


def _absolute_path(value: Any, field: str) -> str:
    path = expect_string(value, field, max_len=4096, allow_empty=False)
    if not path.startswith("/"):
        raise ValidationError(field, f"must be an absolute path, got {quote(path)}")
    return path
