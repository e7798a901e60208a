"""Building images on the Docker engine: connecting to it, making sure the base image is
there, and building a context from :func:`mlnb.image.assemble_context` with its log
streamed line by line.

The Docker backend builds every deployment's image here, and ``Model.package`` too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import docker
from docker.errors import DockerException, ImageNotFound

from mlnb.errors import BaseImageNotFound, DeploymentFailed, DockerUnavailable
from mlnb.image._context import BuildContext

__all__ = ["LogSink", "build_image", "connect", "ensure_base_image"]

LogSink = Callable[[str], None]
"""Receives one line of log at a time."""


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
            f"no Docker engine answers ({_first_line(error)}); start Docker, or deploy with backend='process'"
        ) from None
    return client


def build_image(
    client: docker.DockerClient,
    context: BuildContext,
    tag: str,
    *,
    labels: dict[str, str],
    log: LogSink,
    cancel: threading.Event | None = None,
) -> None:
    """Build a context made by :func:`mlnb.image._context.assemble_context`, streaming the build log.

    Setting ``cancel`` stops at the next build output; closing the stream makes the
    engine abandon the build.

    Raises:
        BaseImageNotFound: when the base image is neither present nor pullable.
        DeploymentFailed: when a build step fails.
    """
    ensure_base_image(context.base_image, client=client, log=log)
    log(f"[mlnb] building image {tag} on {context.base_image}")
    for chunk in client.api.build(
        path=str(context.directory), tag=tag, labels={**labels, **context.labels}, rm=True, forcerm=True, decode=True
    ):
        if cancel is not None and cancel.is_set():
            return
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if line.strip():
                    log(line)
        elif "error" in chunk:
            raise DeploymentFailed(f"the image build failed: {chunk['error'].strip()}")


def ensure_base_image(image: str, *, client: docker.DockerClient | None = None, log: LogSink | None = None) -> None:
    """Make sure ``image`` is on the engine, pulling it when it is not.

    Raises:
        DockerUnavailable: when no engine answers.
        BaseImageNotFound: when the image is neither present nor pullable.
    """
    client = client or connect()
    try:
        client.images.get(image)
        return
    except ImageNotFound:
        pass
    if log is not None:
        log(f"[mlnb] pulling base image {image}")
    try:
        client.images.pull(image)
    except DockerException as error:
        raise BaseImageNotFound(
            f"base image {image!r} is not present and cannot be pulled ({_first_line(error)}); "
            "set MLNB_BASE_IMAGE or base_image= to an image with Python 3.11 (see docs/development.md)"
        ) from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__

