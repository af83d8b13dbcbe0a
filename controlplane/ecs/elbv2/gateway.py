"""One ELBv2 request start to finish on the ECS gateway: the same strict Signature V4 check
as ECS (scoped to ``elasticloadbalancing``, its replay cache and body limit), the cluster
the endpoint path names (clusters.py), the Action read from the form body, authorization
as the Traffic method the action amounts to (or by its role's policy for a task's session
key), the action, and an XML answer or an XML error
with ELBv2's codes."""

from __future__ import annotations

import logging
import uuid

from controlplane.api import accesskeys
from controlplane.api.context import ApiContext
from controlplane.ecs import sigv4
from controlplane.ecs.access import authorize, authorize_role, lookup
from controlplane.ecs.elbv2 import clusters, query, xml
from controlplane.ecs.elbv2.actions import ACTIONS
from controlplane.ecs.elbv2.errors import TrafficError, from_traffic, validation
from controlplane.ecs.elbv2.traffic import Traffic
from controlplane.ecs.errors import EcsError, to_ecs_error
from controlplane.ecs.replay import ReplayCache
from controlplane.metrics import API_LATENCY
from shoal.errors import ApiError
from shoal.v1.roles_pb2 import TaskCredential
from shoal.validation import ValidationError

log = logging.getLogger(__name__)

SERVICE = "elasticloadbalancing"
# The body names the Action and is signed by its hash; the Content-Type decides how the
# gateway reads it (JSON for ECS, a form for ELBv2), so it must be signed too.
ALWAYS_SIGNED = ("content-type", "host")
TRAFFIC_SERVICE = "/shoal.v1.Traffic/"

# The gateway's shared refusals under the codes AWS's Query services answer with.
_QUERY_CODES = {
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    # botocore retries Throttling, which is what a refused replay must be (sigv4.replayed).
    "ThrottlingException": "Throttling",
    "AccessDeniedException": "AccessDenied",
    "SerializationException": "MalformedInput",
    "RequestTimeoutException": "RequestTimeout",
    "InvalidParameterException": "ValidationError",
    "ServerException": "InternalFailure",
}

# Served again when a signature is seen again (sigv4.verify); the rest are writes to it.
READS = frozenset({"DescribeLoadBalancers", "DescribeListeners", "DescribeRules", "DescribeTargetGroups",
                   "DescribeTargetGroupAttributes", "DescribeTargetHealth"})


class Form:
    """A request's form body, parsed once and only when first asked: by the replay check
    (which asks only once the signature matched, so of signed content only), then by handle()."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._parsed: tuple[str, query.Params] | EcsError | None = None

    def parsed(self) -> tuple[str, query.Params]:
        """(the Action, its parameters); raises the refusal naming the fault, each time asked."""
        if self._parsed is None:
            try:
                self._parsed = query.parse(self._body)
            except EcsError as exc:
                self._parsed = exc
        if isinstance(self._parsed, EcsError):
            raise self._parsed
        return self._parsed

    def is_read(self, _req: sigv4.Request) -> bool:
        # The Action as handle() reads it: from the signed body (a second Action there is
        # refused), never from the URL's query, which names no operation here. A body that
        # does not parse is no read; handle() refuses it, naming the fault.
        try:
            return self.parsed()[0] in READS
        except EcsError:
            return False


def is_elbv2(content_type: str | None, target: str | None) -> bool:
    """Whether a request is ELBv2's: a form body and no ECS X-Amz-Target."""
    return not target and query.is_query(content_type)


def error_body(err: EcsError) -> tuple[int, bytes]:
    code = _QUERY_CODES.get(err.ecs_type, err.ecs_type)
    return err.status, xml.error(code, err.message, str(uuid.uuid4()), err.status)


def handle(ctx: ApiContext, traffic: Traffic, req: sigv4.Request,
           replays: ReplayCache | None = None) -> tuple[int, bytes, str]:
    """(HTTP status, XML body, action or "-")."""
    name = "-"
    form = Form(req.body)
    try:
        key = sigv4.verify(req, lambda key_id: lookup(ctx, key_id), replays=replays,
                           service=SERVICE, always_signed=ALWAYS_SIGNED, is_read=form.is_read)
        if req.method != "POST":
            raise validation("ELBv2 actions are POST requests with a form-encoded body")
        cluster = clusters.cluster_of(req.path)
        try:
            ctx.require_cluster(cluster)
        except ApiError as exc:
            raise validation(f"endpoint path {req.path[:80]!r}: {exc.message}") from None
        name, params = form.parsed()
        action = ACTIONS.get(name)
        if action is None:
            refused_name, name = name[:64], "-"
            raise EcsError("InvalidAction", f"Action {refused_name!r} is not supported by this gateway; it serves "
                                            f"{', '.join(sorted(ACTIONS))}")
        if isinstance(key, TaskCredential):
            # A role judges ELBv2 actions on "*": its policy names no load balancer resources.
            authorize_role(ctx, SERVICE, name, key, "*")
        else:
            authorize(name, accesskeys.identity(key), key.access_key_id, method=TRAFFIC_SERVICE + action.method)
        with API_LATENCY.labels(method="elbv2." + name).time():
            result = action.run(clusters.Scoped(traffic, cluster), params)
        return 200, xml.response(name, result, str(uuid.uuid4())), name
    except TrafficError as exc:
        status, body = error_body(from_traffic(exc, name))
    except ValidationError as exc:
        status, body = error_body(validation(str(exc)))
    except Exception as exc:
        status, body = error_body(to_ecs_error(exc, "elbv2." + name))
    return status, body, name
