"""Deployment backends, by name: ``docker``, ``process``, ``swarm`` and any registered test double.

Each backend owns everything backend-specific (start, the safe switch to a new version,
stop, state, logs and its resource sampler), so nothing outside this package asks which
backend a service is on. The Docker and Swarm backends are imported only when asked for:
docker-py loads on first use.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from mlnb.config import add_backend_name, remove_backend_name
from mlnb.deploy.backends._base import Backend, Deployment, RuntimeStatus, http_ready, server_arguments
from mlnb.deploy.backends._fake import FakeBackend, FakeService
from mlnb.deploy.backends._sampling import Sample, Sampler
from mlnb.errors import DockerUnavailable, InvalidConfiguration

_FACTORIES: dict[str, Callable[[], Backend]] = {}
_INSTANCES: dict[str, Backend] = {}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make a backend available under ``name`` (used for test doubles such as :class:`FakeBackend`)."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)
    add_backend_name(name)


def unregister_backend(name: str) -> None:
    """Undo :func:`register_backend`: ``name`` is no longer a backend (a no-op for unknown names)."""
    _FACTORIES.pop(name, None)
    _INSTANCES.pop(name, None)
    remove_backend_name(name)


def get_backend(name: str) -> Backend:
    """Return the backend called ``name``, creating it on first use.

    Raises:
        DockerUnavailable: for ``"docker"`` or ``"swarm"`` when no engine answers.
        InvalidConfiguration: for an unknown name.
    """
    if name not in _INSTANCES:
        _INSTANCES[name] = _create(name)
    return _INSTANCES[name]


def _create(name: str) -> Backend:
    if name in _FACTORIES:
        return _FACTORIES[name]()
    if name == "docker":
        from mlnb.deploy.backends._docker import DockerBackend

        return DockerBackend()
    if name == "process":
        from mlnb.deploy.backends._process import ProcessBackend

        return ProcessBackend()
    if name == "swarm":
        from mlnb.deploy.backends._swarm import SwarmBackend

        return SwarmBackend()
    known = ", ".join(sorted({"docker", "process", "swarm", *_FACTORIES}))
    raise InvalidConfiguration(f"unknown backend {name!r}; expected one of {known}")


def labelled_workspaces() -> set[Path]:
    """The workspaces that mlnb's containers on the Docker engine name in their labels;
    none when no engine answers (process services are found through the workspace index)."""
    try:
        from mlnb.deploy.backends._docker import labelled_workspaces as on_the_engine

        return on_the_engine()
    except DockerUnavailable:
        return set()


def resolve_backend(name: str) -> tuple[Backend, str]:
    """Resolve ``"auto"`` to Docker when an engine answers, else the process backend.

    Returns:
        The backend and a sentence saying which was picked and why.
    """
    if name != "auto":
        return get_backend(name), f"backend: {name}"
    try:
        return get_backend("docker"), "backend: docker (auto: a Docker engine answered)"
    except DockerUnavailable:
        # The usual case (Binder, a laptop without Docker) is not an error: say what happens, not
        # docker-py's connection failure; an engine configured but silent is worth naming.
        host = os.environ.get("DOCKER_HOST")
        silent = f" (DOCKER_HOST={host} does not answer)" if host else ""
        return get_backend("process"), f"no Docker engine here: using local processes{silent}"


__all__ = [
    "Backend",
    "Deployment",
    "FakeBackend",
    "FakeService",
    "RuntimeStatus",
    "Sample",
    "Sampler",
    "get_backend",
    "http_ready",
    "labelled_workspaces",
    "register_backend",
    "resolve_backend",
    "server_arguments",
    "unregister_backend",
]
