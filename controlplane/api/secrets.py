"""The secret store: values sealed with the master key under ``/shoal/v1/secrets/<name>``
(the whole record, metadata too, so etcd never holds a value in plaintext). Operators put,
list (names and dates only) and delete secrets; a value leaves the control plane only for
the node a task that names it is assigned to (GetTaskSecrets), right before the container
starts. Nothing here logs a value."""

from __future__ import annotations

import json
import re
import time

from controlplane.errors import invalid, not_found
from shoal.security.sealing import Sealer
from shoal.store.base import KV, Conflict, Store
from shoal.store.update import update
from shoal.v1 import resources_pb2 as r
from shoal.v1 import security_pb2 as sec

SECRETS = "/shoal/v1/secrets/"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]{0,127}")
MAX_VALUE_BYTES = 64 * 1024
MAX_DESCRIPTION = 256


def key(name: str) -> str:
    return f"{SECRETS}{name}"


def check_name(name: str, field: str = "name") -> str:
    if not _NAME.fullmatch(name) or "//" in name or name.endswith("/"):
        raise invalid(f"{field}: 1-128 letters, digits or _.-/, starting with a letter or digit; got {name[:64]!r}")
    return name


def _require(sealer: Sealer | None) -> Sealer:
    if sealer is None:
        raise invalid("secrets need a master key to be sealed with: start the control plane with --pki-dir")
    return sealer


def _open(sealer: Sealer, k: str, data: bytes) -> dict:
    return json.loads(sealer.unseal(data, k))


def _info(name: str, doc: dict) -> sec.SecretInfo:
    return sec.SecretInfo(name=name, created_at=doc["created_at"], updated_at=doc["updated_at"],
                          description=doc.get("description", ""), version=doc["version"])


def put(store: Store, sealer: Sealer | None, req: sec.PutSecretRequest) -> sec.SecretInfo:
    sealer = _require(sealer)
    name = check_name(req.name)
    if len(req.value.encode()) > MAX_VALUE_BYTES:
        raise invalid(f"value: at most {MAX_VALUE_BYTES} bytes")
    if "\x00" in req.value:
        raise invalid("value: must not contain NUL (it becomes an environment variable)")
    if len(req.description) > MAX_DESCRIPTION or any(not ch.isprintable() for ch in req.description):
        raise invalid(f"description: at most {MAX_DESCRIPTION} printable characters")
    k = key(name)
    written: dict = {}

    def new_version(kv: KV | None) -> bytes:
        now = time.time()
        doc = _open(sealer, k, kv.value) if kv is not None else {"created_at": now, "version": 0}
        doc.update(value=req.value, description=req.description, updated_at=now, version=doc["version"] + 1)
        written.update(doc)
        return sealer.seal(json.dumps(doc).encode(), k)

    try:
        update(store, k, new_version)
    except Conflict:
        raise invalid("name: the secret changed concurrently; try again") from None
    return _info(name, written)


def list_(store: Store, sealer: Sealer | None) -> sec.ListSecretsResponse:
    sealer = _require(sealer)
    resp = sec.ListSecretsResponse()
    for kv in store.list(SECRETS).kvs:
        resp.secrets.append(_info(kv.key[len(SECRETS):], _open(sealer, kv.key, kv.value)))
    return resp


def delete(store: Store, sealer: Sealer | None, req: sec.DeleteSecretRequest) -> sec.SecretInfo:
    sealer = _require(sealer)
    k = key(check_name(req.name))
    kv = store.get(k)
    if kv is None:
        raise not_found(f"name: no secret {req.name!r}")
    info = _info(req.name, _open(sealer, k, kv.value))
    store.delete(k, kv.mod_revision)
    return info


def values_for(store: Store, sealer: Sealer | None, taskdef: r.TaskDefinition) -> sec.GetTaskSecretsResponse:
    """The values of every secret the task definition's containers name; NOT_FOUND names
    the first one missing (the task then fails to start, saying which)."""
    sealer = _require(sealer)
    resp = sec.GetTaskSecretsResponse()
    for i, cdef in enumerate(taskdef.container_definitions):
        if not cdef.secrets:
            continue
        out = resp.containers.add(container_name=cdef.name)
        for j, ref in enumerate(cdef.secrets):
            name = ref.value_from
            if not _NAME.fullmatch(name):
                raise invalid(f"containerDefinitions[{i}].secrets[{j}].valueFrom: {name[:64]!r} is not a secret name")
            kv = store.get(key(name))
            if kv is None:
                raise not_found(f"containerDefinitions[{i}].secrets[{j}].valueFrom: no secret {name!r} "
                                "(`shoal secret put` it)")
            out.values[ref.name] = _open(sealer, kv.key, kv.value)["value"]
    return resp


def value_of(store: Store, sealer: Sealer | None, name: str, field: str) -> str:
    """One secret's value for a node that needs it (repositoryCredentials); NOT_FOUND or
    INVALID_ARGUMENT name ``field``."""
    sealer = _require(sealer)
    if not _NAME.fullmatch(name):
        raise invalid(f"{field}: {name[:64]!r} is not a secret name")
    kv = store.get(key(name))
    if kv is None:
        raise not_found(f"{field}: no secret {name!r} (`shoal secret put` it)")
    return _open(sealer, kv.key, kv.value)["value"]
