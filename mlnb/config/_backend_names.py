"""The names a deployment configuration accepts for ``backend``.

The backends themselves live in :mod:`mlnb.deploy.backends`, above this layer: a
configuration is checked against these names without importing any backend.
:func:`mlnb.deploy.backends.register_backend` adds the name of a registered one (a test
double such as ``FakeBackend``) here.
"""

from __future__ import annotations

__all__ = ["AUTO", "BUILTIN_BACKENDS", "add_backend_name", "backend_names", "remove_backend_name"]

AUTO = "auto"
"""Docker when an engine answers, else a local process."""

BUILTIN_BACKENDS = ("docker", "process", "swarm")
"""The backends mlnb ships."""

_added: set[str] = set()


def add_backend_name(name: str) -> None:
    """Accept ``name`` as a backend from now on (called when a backend is registered)."""
    _added.add(name)


def remove_backend_name(name: str) -> None:
    """Stop accepting ``name`` (a registered backend that was unregistered); built-in names stay."""
    _added.discard(name)


def backend_names() -> tuple[str, ...]:
    """``auto``, the built-in backends, then registered ones, sorted."""
    return (AUTO, *BUILTIN_BACKENDS, *sorted(_added - set(BUILTIN_BACKENDS)))
