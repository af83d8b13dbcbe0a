"""What the gateway does around every operation of an AWS JSON 1.1 service it serves beside
ECS on the same port (ECR, Application Auto Scaling): the SigV4 check scoped to that
service's signing name, POST only, an operation it serves, the caller judged as the gRPC
method the operation stands for, the body decoded, the time counted, and any failure
answered in that service's own error words. One place, so the services cannot drift apart
on what they check before an operation runs."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs import access, protocol, sigv4
from controlplane.ecs.errors import EcsError, to_ecs_error
from controlplane.ecs.replay import ReplayCache
from controlplane.metrics import API_LATENCY
from shoal.security.ca import Identity

Body = dict[str, Any]
# The operation named, who asked, and the request's body: the answer's body.
Run = Callable[[str, Identity, Body], Body]


def handle(ctx: ApiContext, req: sigv4.Request, replays: ReplayCache | None, *, signing_name: str,
           is_read: Callable[[sigv4.Request], bool], title: str,
           operations: Collection[str], method_of: Callable[[str], str], run: Run,
           wire_error: Callable[[BaseException, str], EcsError] = to_ecs_error) -> tuple[int, dict, str]:
    """One request: (HTTP status, JSON body, operation or "-"). ``method_of`` names the
    full gRPC method whose permission an operation needs; ``is_read`` tells a signed request
    that only reads (served again when replayed); ``title`` is the service's name in refusals."""
    target = req.header("x-amz-target") or ""
    name = target.rpartition(".")[2][:64] or "-"
    try:
        key = sigv4.verify(req, lambda key_id: accesskeys.active(ctx, key_id), replays=replays, service=signing_name,
                           is_read=is_read)
        if req.method != "POST":
            raise EcsError("UnknownOperationException", f"{title} operations are POST requests", 405)
        if name not in operations:
            raise EcsError("UnknownOperationException", f"Operation {target[:200]!r} is not supported by Shoal")
        who = accesskeys.identity(key)
        access.authorize(name, who, key.access_key_id, method_of(name), via=signing_name)
        body = protocol.decode_body(req.body)
        with API_LATENCY.labels(method=f"{signing_name}.{name}").time():
            return 200, run(name, who, body), name
    except Exception as exc:
        err = wire_error(exc, name)
        return err.status, err.body(), name
