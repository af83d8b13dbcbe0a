"""docker-py's and requests' errors turned into the runtime's own (agent.runtime), in one
place for every module that calls the engine: NotFound, ContainerRuntimeError for a refusal
the engine answered, RuntimeUnavailable when it could not be reached."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker.errors
import requests.exceptions

from agent.runtime import ContainerRuntimeError, NotFound, RuntimeUnavailable

# What reaching the engine can raise, for the callers that map it to an error of their own.
ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException)


def explain(exc: Exception) -> str:
    """The engine's own explanation when it gave one."""
    if isinstance(exc, docker.errors.APIError):
        return str(exc.explanation or exc)
    return str(exc)


@contextlib.contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Re-raises an engine error from the block as the runtime's, prefixed with ``what``."""
    try:
        yield
    except docker.errors.NotFound as exc:
        raise NotFound(f"{what}: {explain(exc)}") from exc
    except docker.errors.APIError as exc:
        raise ContainerRuntimeError(f"{what}: {explain(exc)}") from exc
    except ENGINE_ERRORS as exc:
        raise RuntimeUnavailable(f"{what}: {exc}") from exc
