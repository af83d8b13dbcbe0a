"""The node's task-role credentials endpoint, on ECS's contract: a container of a task whose
definition names a ``taskRoleArn`` finds ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` in its environment, and a GET of that URI with that
token in the Authorization header answers ``{AccessKeyId, SecretAccessKey, Token,
Expiration, RoleArn}``: short-lived keys the control plane minted for that task and role.

The URI's path and the token are derived from the task id with a key only this node holds
(``task-credentials.key`` in the state dir), so containers that outlive an agent restart
keep working; the endpoint serves only tasks this node is assigned and meant to run
(``tasks``, read on every request), so a stopped task's path answers nothing. A token is
checked against its own task's path only: one task's token cannot read another's. Cached
credentials are refreshed once half their life is gone, in the background, so a client
never sees ones about to expire."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import shoal.logs
from agent import spec
from shoal.security.sealing import write_private
from shoal.v1 import resources_pb2 as r
from shoal.v1 import roles_pb2 as ro

log = logging.getLogger("agent")

KEY_FILE = "task-credentials.key"
PORT_FILE = "task-credentials.port"
PATH_PREFIX = "/v2/credentials/"
URI_ENV = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
TOKEN_ENV = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
# ECS's credentials address: the one non-loopback host botocore (and the aws CLI) fetch a
# plain-HTTP FULL_URI from. A container on the bridge reaches it through its gateway (this
# host), which delivers to any address of its own.
ECS_HOST = "169.254.170.2"
# Refresh once this share of a credential's life has passed.
REFRESH_AT = 0.5
IDLE = "no task credentials to refresh or forget"

Fetch = Callable[[r.Task], ro.TaskRoleCredentials]


def with_role_env(specs: list[tuple[r.ContainerDefinition, spec.ContainerSpec]], a: r.TaskAssignment,
                  environment: Callable[[r.Task], dict[str, str]] | None
                  ) -> list[tuple[r.ContainerDefinition, spec.ContainerSpec]]:
    """``specs`` with the role credentials' URI and token in every container's environment
    when the task names a role (the spec hash stays the one without them, as for secrets).
    Raises RuntimeError saying why a task with a role cannot have its credentials."""
    if not a.task_definition.task_role_arn:
        return specs
    if environment is None:
        raise RuntimeError(f"task role {a.task_definition.task_role_arn}: this node serves no task role "
                           "credentials (its agent runs without --task-credentials-listen)")
    try:
        env = environment(a.task)
    except RuntimeError as exc:
        raise RuntimeError(f"unable to get credentials for task role {a.task_definition.task_role_arn}: "
                           f"{exc}") from None
    return spec.with_secrets(specs, {cdef.name: env for cdef, _ in specs})


def role_tasks(desired: dict[str, r.TaskAssignment] | None) -> list[r.Task]:
    """The tasks of a node's assignments that name a role and are meant to run."""
    return [a.task for a in list((desired or {}).values())
            if a.task_definition.task_role_arn and a.task.desired_status == "RUNNING"]


def node_key(state_dir: str) -> bytes:
    """The node's key for task paths and tokens, made once and kept 0600."""
    path = Path(state_dir) / KEY_FILE
    if path.exists():
        return path.read_bytes()
    key = secrets.token_bytes(32)
    write_private(path, key)
    return key


@dataclass
class _Cached:
    creds: ro.TaskRoleCredentials
    fetched_at: float

    def stale(self, now: float) -> bool:
        return now >= self.fetched_at + REFRESH_AT * (self.creds.expiration - self.fetched_at)


class TaskRoleEndpoint:
    """``fetch`` asks the control plane for a task's credentials (raises RuntimeError
    saying why not); ``tasks`` lists the tasks this node runs whose definition names a role;
    ``host`` is where it listens and what the URI containers get names."""

    def __init__(self, key: bytes, fetch: Fetch, tasks: Callable[[], list[r.Task]], host: str, port: int) -> None:
        self._key = key
        self._fetch = fetch
        self._tasks = tasks
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://{host}:{self.port}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _derive(self, purpose: str, task_id: str) -> str:
        return hmac.new(self._key, f"{purpose}\0{task_id}".encode(), hashlib.sha256).hexdigest()

    def environment(self, task: r.Task) -> dict[str, str]:
        """What a task's containers get: the URI and token. Fetches its credentials first,
        so a task whose role cannot be had fails to start (raises RuntimeError)."""
        self._credentials(task, force=True)
        return {URI_ENV: self.base_url + PATH_PREFIX + self._derive("path", task.id),
                TOKEN_ENV: self._derive("token", task.id)}

    def _credentials(self, task: r.Task, force: bool = False) -> ro.TaskRoleCredentials:
        now = time.time()
        with self._lock:
            cached = self._cache.get(task.id)
        if cached is not None and not force and not cached.stale(now) and cached.creds.expiration > now:
            return cached.creds
        try:
            creds = self._fetch(task)
        except RuntimeError:
            # A control plane out of reach: keys still valid serve on until it is back.
            if cached is None or force or cached.creds.expiration <= now:
                raise
            return cached.creds
        with self._lock:
            self._cache[task.id] = _Cached(creds, now)
        return creds

    def answer(self, path: str, token: str) -> tuple[int, dict]:
        """(HTTP status, JSON body) for a GET of ``path`` with ``token``."""
        if not path.startswith(PATH_PREFIX):
            return 404, {"message": f"no such path; credentials are under {PATH_PREFIX}"}
        wanted = path[len(PATH_PREFIX):]
        task = next((t for t in self._tasks() if _same(self._derive("path", t.id), wanted)), None)
        if task is None:
            return 404, {"message": "no running task of this node has these credentials"}
        if not token or not _same(self._derive("token", task.id), token):
            log.warning("denied: task credentials asked with a wrong token", extra=shoal.logs.kv(task=task.id))
            return 401, {"message": "the Authorization header is not this task's AWS_CONTAINER_AUTHORIZATION_TOKEN"}
        try:
            creds = self._credentials(task)
        except RuntimeError as exc:
            return 503, {"message": f"cannot get credentials for the task role: {exc}"}
        return 200, {"AccessKeyId": creds.access_key_id, "SecretAccessKey": creds.secret_access_key,
                     "Token": creds.session_token, "Expiration": _iso(creds.expiration), "RoleArn": creds.role_arn}

    def refresh_cycle(self) -> str:
        """Refreshes the cached credentials past half their life and forgets those of tasks
        no longer here; returns what it did."""
        now = time.time()
        current = {t.id: t for t in self._tasks()}
        with self._lock:
            gone = [task_id for task_id in self._cache if task_id not in current]
            for task_id in gone:
                del self._cache[task_id]
            due = [current[task_id] for task_id, c in self._cache.items() if c.stale(now)]
        if not due and not gone:
            return IDLE
        failed = 0
        for task in due:
            try:
                self._credentials(task, force=True)
            except RuntimeError as exc:
                failed += 1
                log.warning("cannot refresh task role credentials", extra=shoal.logs.kv(task=task.id, error=exc))
        return f"refreshed {len(due) - failed} task credentials ({failed} failed), forgot {len(gone)}"

    def start(self, interval: float = 1.0) -> TaskRoleEndpoint:
        serve = threading.Thread(target=self._server.serve_forever, name="task-credentials", daemon=True)
        refresh = threading.Thread(target=self._refresh_loop, args=(interval,), name="task-credentials-refresh",
                                   daemon=True)
        self._threads = [serve, refresh]
        for t in self._threads:
            t.start()
        log.info("serving task role credentials", extra=shoal.logs.kv(url=self.base_url))
        return self

    def _refresh_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            sentence = self.refresh_cycle()
            log.log(logging.DEBUG if sentence == IDLE else logging.INFO, sentence)

    def close(self) -> None:
        self._stop.set()
        if self._threads:  # shutdown() waits for serve_forever, which only start() runs
            self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(5)


def _same(ours: str, theirs: str) -> bool:
    # compare_digest refuses non-ASCII str, which a hostile path or header may hold.
    return hmac.compare_digest(ours.encode(), theirs.encode("utf-8", "surrogateescape"))


def _iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _handler(endpoint: TaskRoleEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "shoal-agent"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802
            status, body = endpoint.answer(self.path, self.headers.get("Authorization", ""))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # requests carry secrets in answers; refusals are logged by ``answer``

    return Handler


def local_address(address: str = ECS_HOST) -> str:
    """Makes ``address`` one of this host's own (a /32 on ``lo``, as ECS's agent does),
    unless it already is. Returns "" when it is, else why it cannot be (not root, no ``ip``,
    or the address belongs to a network attached here, where it names some other machine)."""
    try:
        route = subprocess.run(["ip", "-4", "route", "get", address], capture_output=True, text=True,
                               timeout=10, check=False)
        first = route.stdout.split("\n", 1)[0].strip()
        if route.returncode == 0 and first.startswith("local "):
            return ""
        if route.returncode == 0 and " via " not in first:
            return f"{address} is on a network attached here ({first})"
        added = subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], capture_output=True,
                               text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run ip: {exc}"
    # "already assigned": another agent on this host added it meanwhile.
    if added.returncode != 0 and "already assigned" not in added.stderr and "File exists" not in added.stderr:
        return f"ip addr add {address}/32 dev lo: {added.stderr.strip() or added.returncode}"
    return ""


def add_flags(p) -> None:
    p.add_argument("--task-credentials-listen", default=":0", metavar="[HOST]:PORT",
                   help=f"serve task role credentials (taskRoleArn) here; HOST empty: {ECS_HOST}, ECS's address, "
                        "added to lo when missing (else the Docker bridge's gateway; --address with the hollow "
                        "runtime); PORT 0: one picked the first time and kept in the state dir; 'off' serves none")


def default_host(bridge_gateway: str, fallback_host: str) -> str:
    """Where containers read credentials when --task-credentials-listen names no host:
    ECS's address, which botocore accepts, when this host can have it and runs containers;
    else the bridge's gateway (or ``fallback_host``), which only hand-written clients accept."""
    if not bridge_gateway:
        return fallback_host  # the hollow runtime: no containers, nothing to reach it
    why = local_address()
    if not why:
        return ECS_HOST
    log.warning("cannot serve task role credentials on ECS's address; serving on the bridge's gateway, "
                "whose plain-HTTP URI the AWS SDKs refuse", extra=shoal.logs.kv(address=bridge_gateway, error=why))
    return bridge_gateway


def from_args(value: str, state_dir: str, bridge_gateway: str, fallback_host: str, fetch: Fetch,
              tasks: Callable[[], list[r.Task]]) -> TaskRoleEndpoint | None:
    """The endpoint --task-credentials-listen asks for, started, or None when it is off or
    its address cannot be bound (logged: tasks with a role then fail to start, saying so)."""
    if value == "off":
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise SystemExit(f"agent: --task-credentials-listen: want [HOST]:PORT or off, got {value!r}")
    host = host.strip("[]") or default_host(bridge_gateway, fallback_host)
    remembered = Path(state_dir) / PORT_FILE
    wanted = int(port)
    if wanted == 0 and remembered.exists():
        # The port picked the first time, so containers that outlive a restart keep their URI.
        wanted = int(remembered.read_text().strip() or 0)
    try:
        endpoint = TaskRoleEndpoint(node_key(state_dir), fetch, tasks, host, wanted)
    except OSError as exc:
        log.warning("cannot serve task role credentials; tasks with a taskRoleArn will not start on this node",
                    extra=shoal.logs.kv(address=f"{host}:{wanted}", error=exc))
        return None
    if int(port) == 0:
        remembered.write_text(f"{endpoint.port}\n")
    return endpoint.start()
