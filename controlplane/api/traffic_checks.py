"""The pure checks of the Traffic API's input, in ELBv2's and Cloud Map's rules: names,
protocols, ports, health checks, listener-rule patterns and priorities, namespace names.
Each raises an ApiError naming the field, with ELBv2's error code as the error's type (the
ELBv2 gateway answers with it; the gRPC status is INVALID_ARGUMENT)."""

from __future__ import annotations

import re

import grpc

from shoal.errors import ApiError
from shoal.v1 import traffic_pb2 as t
from shoal.validation import has_control, is_public_tld

# ELBv2's Name rule for load balancers and target groups.
_ELB_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")
# ALB's condition values: host headers and paths, with `*` and `?` wildcards.
_HOST_PATTERN = re.compile(r"[A-Za-z0-9.*?-]+")
# ALB's path characters but the single quote: the node proxies quote patterns in single
# quotes, and refuse a whole routing table holding one they cannot render.
_PATH_PATTERN = re.compile(r"/[A-Za-z0-9_.$/~\"@:+&*?-]*")
# What the node proxies send as a health check's request line (no space, '#' or quote).
_HEALTH_PATH = re.compile(r"/[A-Za-z0-9_.~/%?=&:@+-]*")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MATCHER_CODE = re.compile(r"[0-9]{3}")
MAX_PATTERN = 128
MAX_PATTERNS = 5
MAX_HEALTH_PATH = 1024
TYPES = ("application", "network")
PROTOCOL_OF_TYPE = {"application": "HTTP", "network": "TCP"}
DEFAULT_DEREGISTRATION_DELAY = 300


def bad(message: str, code: str = "ValidationError") -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message, code)


def elb_name(value: str, field: str, what: str) -> str:
    if not value:
        raise bad(f"{field}: required (the {what}'s name)")
    if len(value) > 32 or not _ELB_NAME.fullmatch(value):
        raise bad(f"{field}: {value[:64]!r} is not a valid {what} name: 1-32 letters, digits and hyphens, "
                  "not starting or ending with a hyphen")
    if value.startswith("internal-"):
        raise bad(f"{field}: a {what} name must not start with 'internal-'")
    return value


def lb_type(value: str) -> str:
    value = value or "application"
    if value not in TYPES:
        raise bad(f"type: must be application or network, got {value[:32]!r}")
    return value


def protocol(value: str, field: str) -> str:
    value = value.upper()
    if value not in ("HTTP", "TCP"):
        raise bad(f"{field}: must be HTTP or TCP, got {value[:32]!r} (Shoal terminates no TLS)")
    return value


def listener_protocol(value: str, the_type: str) -> str:
    wanted = PROTOCOL_OF_TYPE[the_type]
    value = protocol(value or wanted, "protocol")
    if value != wanted:
        raise bad(f"protocol: a {the_type} load balancer's listeners are {wanted}, not {value}",
                  "InvalidConfigurationRequest")
    return value


# Where containers reach their node's DNS responder (Docker's `dns` option has no port).
DNS_PORT = 53


def port(value: int, field: str) -> int:
    if not 1 <= value <= 65535:
        raise bad(f"{field}: must be a port from 1 to 65535, got {value}")
    return value


def _range(value: int, field: str, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise bad(f"{field}: must be between {lo} and {hi}, got {value}")
    return value


def deregistration_delay(value: int) -> int:
    return _range(value, "deregistrationDelaySeconds", 0, 3600)


def matcher(value: str, field: str, highest: int) -> str:
    """ELBv2's Matcher.HttpCode: "200", "200,204" or "200-399", codes 200..``highest``."""
    if not value or len(value) > 64:
        raise bad(f"{field}: give codes like 200, 200,204 or 200-399")
    for part in value.split(","):
        low, sep, high = part.partition("-")
        codes = [low, high] if sep else [low]
        if not all(_MATCHER_CODE.fullmatch(c) and 200 <= int(c) <= highest for c in codes):
            raise bad(f"{field}: {part[:16]!r} is not an HTTP code from 200 to {highest} or a range of them")
        if sep and int(low) > int(high):
            raise bad(f"{field}: the range {part!r} runs backwards")
    return value


def health_check(hc: t.HealthCheckConfig, tg_protocol: str) -> t.HealthCheckConfig:
    """``hc`` with ELBv2's defaults filled in for what is 0 or empty, checked against
    ELBv2's ranges."""
    out = t.HealthCheckConfig()
    out.CopyFrom(hc)
    out.protocol = protocol(out.protocol or tg_protocol, "healthCheck.protocol")
    if tg_protocol == "HTTP" and out.protocol == "TCP":
        raise bad("healthCheck.protocol: an HTTP target group's health checks are HTTP")
    if out.protocol == "HTTP":
        out.path = out.path or "/"
        if len(out.path) > MAX_HEALTH_PATH or not _HEALTH_PATH.fullmatch(out.path):
            raise bad(f"healthCheck.path: must start with '/' and be at most {MAX_HEALTH_PATH} letters, digits "
                      f"and _.~/%?=&:@+- (percent-encode others), got {out.path[:64]!r}")
        out.matcher = matcher(out.matcher or "200", "healthCheck.matcher",
                              499 if tg_protocol == "HTTP" else 599)
    elif out.path or out.matcher:
        raise bad("healthCheck.path: TCP health checks take no path or matcher")
    out.interval_seconds = _range(out.interval_seconds or 30, "healthCheck.intervalSeconds", 5, 300)
    out.timeout_seconds = _range(out.timeout_seconds or (5 if out.protocol == "HTTP" else 10),
                                 "healthCheck.timeoutSeconds", 2, 120)
    if out.timeout_seconds >= out.interval_seconds:
        raise bad(f"healthCheck.timeoutSeconds: must be less than intervalSeconds ({out.interval_seconds}), "
                  f"got {out.timeout_seconds}")
    out.healthy_threshold = _range(out.healthy_threshold or 5, "healthCheck.healthyThreshold", 2, 10)
    out.unhealthy_threshold = _range(out.unhealthy_threshold or 2, "healthCheck.unhealthyThreshold", 2, 10)
    return out


def priority(value: int) -> int:
    return _range(value, "priority", 1, 50000)


def patterns(values: list[str], field: str, host: bool) -> list[str]:
    if len(values) > MAX_PATTERNS:
        raise bad(f"{field}: at most {MAX_PATTERNS} patterns per condition, got {len(values)}")
    for i, value in enumerate(values):
        where = f"{field}[{i}]"
        if not value or len(value) > MAX_PATTERN:
            raise bad(f"{where}: must be 1 to {MAX_PATTERN} characters")
        if host and not _HOST_PATTERN.fullmatch(value):
            raise bad(f"{where}: {value[:64]!r} is not a host pattern: letters, digits, '-', '.', "
                      "and the wildcards '*' and '?'")
        if not host and not _PATH_PATTERN.fullmatch(value):
            raise bad(f"{where}: {value[:64]!r} is not a path pattern: it starts with '/' and holds letters, "
                      "digits, _-.$/~\"@:+& and the wildcards '*' and '?'")
    return values


def namespace_name(value: str, field: str = "name") -> str:
    if not value:
        raise bad(f"{field}: required (a DNS label)")
    if not _DNS_LABEL.fullmatch(value):
        raise bad(f"{field}: {value[:64]!r} is not a DNS label: 1-63 lower-case letters, digits and hyphens, "
                  "not starting or ending with a hyphen")
    # Every node's DNS responder answers for its namespaces with authority (as a Route 53
    # private zone or Consul's domain does), which for a top-level domain is all of it.
    if is_public_tld(value):
        raise bad(f"{field}: {value!r} is a public top-level domain; every node's DNS responder would answer for "
                  f"all of .{value} (pypi.{value}, ...) in place of the real DNS: pick a name that is not one "
                  "(as Route 53 refuses a hosted zone for a top-level domain)")
    return value


def tags(values) -> list:
    """ELBv2's tag rules: at most 50, keys 1-128 characters, values at most 256, keys unique."""
    values = list(values)
    if len(values) > 50:
        raise bad(f"tags: at most 50, got {len(values)}", "TooManyTags")
    seen = set()
    for i, tag in enumerate(values):
        if not 1 <= len(tag.key) <= 128:
            raise bad(f"tags[{i}].key: must be 1 to 128 characters")
        if len(tag.value) > 256:
            raise bad(f"tags[{i}].value: at most 256 characters")
        for part, text in (("key", tag.key), ("value", tag.value)):
            if has_control(text):
                raise bad(f"tags[{i}].{part}: {text[:64]!r} holds a control character")
        if tag.key in seen:
            raise bad(f"tags[{i}].key: {tag.key[:64]!r} is given twice", "DuplicateTagKeys")
        seen.add(tag.key)
    return values
