"""HTTP lifecycle hooks, Shoal's analogue of ECS's Lambda hooks: for each hook of targetType
HTTP that a service deployment waits on, the leader POSTs the deployment's state as JSON to
the hook's URL and answers the hook through ContinueServiceDeployment's own code, as an
operator would: ``{"hookStatus": "SUCCEEDED"}`` continues, ``"IN_PROGRESS"`` asks again on a
later pass, and anything else — ``FAILED``, another status, a bad body, an error status, no
answer within the timeout, a refused connection — rolls the deployment back.

Closed by default: a URL is called only when its host is on the control plane's
``--hook-allow-host`` list, checked again just before each call (the list may have changed
since the service was configured); redirects are not followed, so an allowed host cannot send
the call elsewhere."""

from __future__ import annotations

import http.client
import json
import logging
from urllib.parse import urlsplit

from controlplane import traffic_shift
from controlplane.api import service_deployments
from controlplane.api.context import ApiContext
from controlplane.errors import ApiError
from controlplane.state import decode
from shoal import keys, logs
from shoal.v1 import operator_pb2 as op
from shoal.v1 import resources_pb2 as r

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0


class HookCaller:
    def __init__(self, ctx: ApiContext, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.ctx = ctx
        self.timeout = timeout

    def reconcile(self) -> str:
        """Calls every HTTP hook awaiting an answer once; says what each answer did."""
        said = []
        for kv in self.ctx.store.list(keys.SERVICES).kvs:
            svc = decode(r.Service, kv.value)
            for entry in svc.service_deployments:
                if entry.status != "IN_PROGRESS":
                    continue
                for hook in entry.lifecycle_hook_details:
                    if hook.target_type == "HTTP" and hook.status == "AWAITING_ACTION":
                        said.append(self._call(svc, entry, hook))
        return "; ".join(s for s in said if s)

    def _call(self, svc: r.Service, entry: r.ServiceDeployment, hook: r.DeploymentLifecycleHookDetail) -> str:
        action, why = self._ask(svc, entry, hook)
        if action is None:
            return ""
        try:
            service_deployments.continue_(self.ctx, op.ContinueServiceDeploymentRequest(
                service_deployment_arn=entry.service_deployment_arn, hook_id=hook.hook_id, action=action))
        except ApiError as exc:  # timed out or answered meanwhile: its status already says so
            return f"hook {hook.hook_id}: not answered ({exc})"
        log.info("http hook answered", extra=logs.kv(service=svc.service_name, hook=hook.hook_id, action=action,
                                                      why=why))
        return f"hook {hook.hook_id} of {svc.service_name}: {action} ({why})"

    def _ask(self, svc: r.Service, entry: r.ServiceDeployment,
             hook: r.DeploymentLifecycleHookDetail) -> tuple[str | None, str]:
        """(CONTINUE | ROLLBACK, why), or (None, why) to ask again later."""
        refusal = traffic_shift.url_refusal(hook.target_arn, self.ctx.hook_hosts)
        if refusal:
            return "ROLLBACK", f"not called: its URL {refusal}"
        url = urlsplit(hook.target_arn)
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        body = json.dumps({
            "serviceArn": svc.service_arn, "serviceDeploymentArn": entry.service_deployment_arn,
            "hookId": hook.hook_id, "lifecycleStage": hook.stage, "targetServiceRevisionArn":
                entry.target_service_revision.arn if entry.HasField("target_service_revision") else "",
        })
        conn = kind(url.hostname, url.port, timeout=self.timeout)
        try:
            conn.request("POST", (url.path or "/") + (f"?{url.query}" if url.query else ""), body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            text = resp.read(65536)
        except TimeoutError:
            return "ROLLBACK", f"no answer within {self.timeout:g}s"
        except OSError as exc:
            return "ROLLBACK", f"the call failed: {exc}"
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            return "ROLLBACK", f"it answered HTTP {resp.status}"
        try:
            status = json.loads(text).get("hookStatus")
        except (ValueError, AttributeError):
            return "ROLLBACK", "its answer is not a JSON object with hookStatus"
        if status == "SUCCEEDED":
            return "CONTINUE", "it answered SUCCEEDED"
        if status == "IN_PROGRESS":
            return None, "it answered IN_PROGRESS"
        return "ROLLBACK", f"it answered {status!r}"
