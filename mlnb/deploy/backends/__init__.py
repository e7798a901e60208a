"""Deployment backends, by name: ``docker``, ``process`` and any registered test double."""

from __future__ import annotations

from collections.abc import Callable

from mlnb.backends.base import Backend, Deployment, RuntimeStatus
from mlnb.errors import DockerUnavailable, InvalidConfiguration

_FACTORIES: dict[str, Callable[[], Backend]] = {}
_INSTANCES: dict[str, Backend] = {}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make a backend available under ``name`` (used for test doubles such as FakeBackend)."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)


def backend_names() -> tuple[str, ...]:
    """The names a deployment configuration accepts: ``auto``, ``docker``, ``process`` and registered ones."""
    return ("auto", "docker", "process", *sorted(_FACTORIES))


def get_backend(name: str) -> Backend:
    """Return the backend called ``name``, creating it on first use.

    Raises:
        DockerUnavailable: for ``"docker"`` when no engine answers.
        InvalidConfiguration: for an unknown name.
    """
    if name not in _INSTANCES:
        if name == "docker":
            from mlnb.backends.docker import DockerBackend

            _INSTANCES[name] = DockerBackend()
        elif name == "process":
            from mlnb.backends.process import ProcessBackend

            _INSTANCES[name] = ProcessBackend()
        elif name in _FACTORIES:
            _INSTANCES[name] = _FACTORIES[name]()
        else:
            known = ", ".join(sorted({"docker", "process", *_FACTORIES}))
            raise InvalidConfiguration(f"unknown backend {name!r}; expected one of {known}")
    return _INSTANCES[name]


def resolve_backend(name: str) -> tuple[Backend, str]:
    """Resolve ``"auto"`` to Docker when an engine answers, else the process backend.

    Returns:
        The backend and a sentence saying which was picked and why.
    """
    if name != "auto":
        return get_backend(name), f"backend: {name}"
    try:
        return get_backend("docker"), "backend: docker (auto: a Docker engine answered)"
    except DockerUnavailable as error:
        return get_backend("process"), f"backend: process (auto: {error})"


__all__ = [
    "Backend",
    "Deployment",
    "RuntimeStatus",
    "backend_names",
    "get_backend",
    "register_backend",
    "resolve_backend",
]
