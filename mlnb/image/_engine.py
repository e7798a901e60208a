"""Connecting to the Docker engine that builds mlnb's images (and runs its containers)."""

from __future__ import annotations

import docker
from docker.errors import DockerException

from mlnb.errors import DockerUnavailable


def connect() -> docker.DockerClient:
    """A client for the engine the environment points at.

    Raises:
        DockerUnavailable: when no engine answers.
    """
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as error:
        raise DockerUnavailable(
            f"no Docker engine answers ({first_line(error)}); start Docker, or deploy with backend='process'"
        ) from None
    return client


def first_line(error: BaseException) -> str:
    """The first line of an engine error's message (its type when it has none)."""
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
