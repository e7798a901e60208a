"""Shared fixtures: a reachable Docker engine and a base image, or a clear skip.

Where no engine is reachable the Docker tests skip with the reason. CI sets
``MLNB_REQUIRE_DOCKER=1`` (see ``.ci/run``), which turns that skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Literal, NoReturn

import docker
import pytest
import requests

REQUIRE_DOCKER = "MLNB_REQUIRE_DOCKER"
DEFAULT_BASE_IMAGE = "python:3.11-slim"


def connect_docker(environ: Mapping[str, str]) -> tuple[docker.DockerClient | None, str]:
    """Connect to the engine that ``environ`` (``DOCKER_HOST``, ...) points at.

    Args:
        environ: The environment to read Docker's variables from.

    Returns:
        ``(client, "")`` when the engine answers a ping, else ``(None, reason)``.
    """
    try:
        client = docker.from_env(environment=dict(environ), timeout=30)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return client, ""


def unavailable_outcome(environ: Mapping[str, str]) -> Literal["skip", "fail"]:
    """Whether a missing engine or image skips the test or fails it."""
    return "fail" if environ.get(REQUIRE_DOCKER) == "1" else "skip"


def docker_unavailable(message: str, environ: Mapping[str, str]) -> NoReturn:
    """Skip the current test with ``message``, or fail it when Docker is required.

    Raises:
        pytest.skip.Exception: By default.
        pytest.fail.Exception: When ``MLNB_REQUIRE_DOCKER=1``.
    """
    if unavailable_outcome(environ) == "fail":
        pytest.fail(f"{message} ({REQUIRE_DOCKER}=1 requires Docker)", pytrace=False)
    pytest.skip(message)


def _image_present(client: docker.DockerClient, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """A client for the engine the environment points at."""
    client, reason = connect_docker(os.environ)
    if client is None:
        docker_unavailable(f"no Docker engine reachable: {reason}", os.environ)
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The image deployments build on: ``$MLNB_BASE_IMAGE``, present locally."""
    name = os.environ.get("MLNB_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    if not _image_present(docker_client, name):
        docker_unavailable(
            f"base image {name!r} is not present locally: "
            "run `.ci/base-image` and export MLNB_BASE_IMAGE to what it prints",
            os.environ,
        )
    return name
