"""Images named by their content: build a context once, and start every identical
redeploy from the image already on the engine.

A context's :attr:`~mlnb.image.BuildContext.digest`, together with the labels the image
gets, names the image: ``<repository>:<tag>-<key>``. When an image of that name exists,
nothing is sent to the engine's builder (which would still read and checksum the whole
context, wheels included, before finding every layer cached); it is only tagged again.
"""

from __future__ import annotations

import hashlib
import threading

import docker
from docker.errors import ImageNotFound

from mlnb.image._build import LogSink, build_image
from mlnb.image._context import BuildContext

__all__ = ["CONTENT_KEY_LENGTH", "build_or_reuse", "content_tag", "split_tag"]

CONTENT_KEY_LENGTH = 16
"""Hex digits of the content key in an image's tag (64 bits: collisions are not a concern)."""


def content_tag(context: BuildContext, tag: str, *, labels: dict[str, str]) -> str:
    """The content-named tag of the image ``context`` builds with ``labels``, beside ``tag``.

    Args:
        context: the build context.
        tag: the image's usual name, ``repository[:tag]``.
        labels: the labels the build adds (they are part of the image, so of its name).

    Returns:
        ``repository:tag-<key>``, the key a hash of the context's digest and the labels.
    """
    repository, name = split_tag(tag)
    merged = {**labels, **context.labels}
    key = hashlib.sha256(
        "\n".join([context.digest, *(f"{k}={v}" for k, v in sorted(merged.items()))]).encode()
    ).hexdigest()[:CONTENT_KEY_LENGTH]
    return f"{repository}:{name}-{key}"


def build_or_reuse(
    client: docker.DockerClient,
    context: BuildContext,
    tag: str,
    *,
    labels: dict[str, str],
    log: LogSink,
    cancel: threading.Event | None = None,
) -> str:
    """Make ``tag`` name the image of ``context``: build it, unless its content-named image exists.

    Args:
        client: the engine.
        context: a context from :func:`mlnb.image.assemble_context`.
        tag: the name the image must have afterwards (``mlnb/myservice:ab12cd34``).
        labels: labels for a build.
        log: receives progress lines and the build log.
        cancel: stops a build at its next output.

    Returns:
        The content-named tag (:func:`content_tag`), which names this exact image for as
        long as it exists (a push or a Swarm service uses it, never the moving ``tag``).

    Raises:
        BaseImageNotFound: when a build is needed and the base image is missing.
        DeploymentFailed: when a build step fails.
    """
    named = content_tag(context, tag, labels=labels)
    try:
        image = client.images.get(named)
    except ImageNotFound:
        build_image(client, context, named, labels=labels, log=log, cancel=cancel)
        if cancel is not None and cancel.is_set():
            return named
        image = client.images.get(named)
    else:
        log(f"[mlnb] image {named} is already built from this context (sha256 {context.digest[:12]}): no build")
    image.tag(*split_tag(tag))
    return named


def split_tag(reference: str) -> tuple[str, str]:
    """``"host:5000/repo:v1"`` → ``("host:5000/repo", "v1")``; no tag means ``latest``."""
    if ":" in reference.rsplit("/", 1)[-1]:
        repository, _, tag = reference.rpartition(":")
        return repository, tag
    return reference, "latest"
