"""Checks of one member of a JSON request body, shared by every JSON service the gateway
speaks (ECS, Application Auto Scaling). The services differ only in the error they answer
with (ECS's InvalidParameterException, Application Auto Scaling's ValidationException), so
each check takes the service's error factory; the wording is the same everywhere and names
the member as the request spelled it, with ``where`` the path of the object it sits in."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from controlplane.ecs.errors import invalid_parameter

Body = dict[str, Any]
Error = Callable[[str], Exception]


def _label(name: str, where: str) -> str:
    return f"{where}.{name}" if where else name


def required(body: Body, name: str, error: Error = invalid_parameter, where: str = "") -> Any:
    """The member's value, of any type; absent, empty and ``[]`` are all missing."""
    value = body.get(name)
    if value in (None, "", []):
        raise error(f"{_label(name, where)}: required")
    return value


def string(body: Body, name: str, error: Error = invalid_parameter, *, required: bool = False,
           where: str = "") -> str:
    """The member as a string; absent or empty is ``""`` unless ``required``."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise error(f"{_label(name, where)}: required")
        return ""
    if not isinstance(value, str):
        raise error(f"{_label(name, where)}: must be a string")
    return value


def integer(body: Body, name: str, error: Error = invalid_parameter, *, lo: int | None = None,
            hi: int | None = None, where: str = "") -> int | None:
    """The member as a whole number within ``lo``..``hi`` where given; ``None`` if absent.
    A JSON boolean is refused although Python counts it an int."""
    value = body.get(name)
    if value is None:
        return None
    bounded = lo is not None and hi is not None
    if (isinstance(value, bool) or not isinstance(value, int) or (lo is not None and value < lo)
            or (hi is not None and value > hi)):
        span = f" from {lo} to {hi}" if bounded else f" of at least {lo}" if lo is not None else ""
        raise error(f"{_label(name, where)}: must be a whole number{span}, got {value!r:.40}")
    return value


def number(body: Body, name: str, error: Error = invalid_parameter, *, required: bool = False,
           where: str = "") -> float | None:
    """The member as a finite number; ``None`` if absent and not ``required``."""
    value = body.get(name)
    if value is None:
        if required:
            raise error(f"{_label(name, where)}: required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise error(f"{_label(name, where)}: must be a finite number, got {value!r:.40}")
    return float(value)


def boolean(body: Body, name: str, error: Error = invalid_parameter, *, where: str = "") -> bool:
    """The member as a boolean; absent or null is false."""
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise error(f"{_label(name, where)}: must be true or false, got {value!r:.40}")
    return value


def choice(body: Body, name: str, allowed: Iterable[str], error: Error = invalid_parameter, *,
           where: str = "") -> str | None:
    """The member if it is one of ``allowed``; ``None`` if absent."""
    value = body.get(name)
    options = list(allowed)
    if value is not None and value not in options:
        listed = " or ".join(options) if len(options) == 2 else "one of " + ", ".join(options)
        raise error(f"{_label(name, where)}: must be {listed}, got {value!r:.40}")
    return value


def strings(body: Body, name: str, error: Error = invalid_parameter, *, where: str = "") -> list[str]:
    """The member as a list of strings; absent is ``[]``."""
    value = body.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise error(f"{_label(name, where)}: must be a list of strings")
    return value


def only(body: Any, allowed: Iterable[str], why: str, error: Error = invalid_parameter, *,
         where: str = "") -> Body:
    """``body`` itself, refused unless it is an object whose members are all ``allowed``;
    ``why`` says, after the first other member's name, why it is refused."""
    if not isinstance(body, dict):
        raise error(f"{where or 'request'}: must be an object")
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise error(f"{_label(extra[0], where)}: {why}")
    return body
