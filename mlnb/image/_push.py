"""Pushing an image to a Docker registry, with the credentials of the usual Docker config.

An image ``mlnb/diabetes:3f2a…`` pushed to ``registry.example.com/team`` becomes
``registry.example.com/team/mlnb/diabetes:3f2a…`` (or ``…:TAG`` when a tag is given).
Credentials are docker-py's: the ``auths`` and credential helpers of
``~/.docker/config.json`` (or ``$DOCKER_CONFIG/config.json``), as ``docker login`` writes
them. mlnb never reads, prints or stores them; the engine does the push.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import docker
from docker.errors import APIError, ImageNotFound

from mlnb.config import check_registry
from mlnb.errors import InvalidConfiguration, PushFailed
from mlnb.image._build import LogSink
from mlnb.image._engine import connect
from mlnb.image._reuse import split_tag

__all__ = ["PushedImage", "push_image"]

_TAG = re.compile(r"[\w][\w.-]{0,127}")
_QUARTERS = (25, 50, 75)


class PushedImage(NamedTuple):
    """An image in a registry.

    Attributes:
        reference: ``registry/repository:tag``, what a cluster or another engine pulls.
        digest: the manifest's ``sha256:…`` digest the registry answered with.
    """

    reference: str
    digest: str

    @property
    def pinned(self) -> str:
        """``registry/repository@sha256:…``: the exact image, whatever the tag later points at."""
        return f"{split_tag(self.reference)[0]}@{self.digest}"


def push_image(
    image: str,
    registry: str,
    *,
    tag: str | None = None,
    client: docker.DockerClient | None = None,
    log: LogSink = print,
) -> PushedImage:
    """Tag a local image into ``registry`` and push it there.

    Args:
        image: the local image's name (``mlnb/diabetes:3f2a…``).
        registry: ``host[:port][/namespace]``; the image's repository goes below it.
        tag: the tag in the registry; ``None`` keeps the image's own.
        client: the engine (default: the environment's).
        log: receives one line per layer and state (preparing, pushed, already there) and
            a line at each quarter of a large layer's upload.

    Returns:
        The pushed reference and its digest.

    Raises:
        InvalidConfiguration: for a malformed registry or tag.
        PushFailed: when the image is missing, the registry cannot be reached, or it refuses
            the push (credentials), with what to do.

    Example::

        pushed = push_image("mlnb/diabetes:3f2a", "127.0.0.1:5000", tag="v1")
        pushed.reference   # '127.0.0.1:5000/mlnb/diabetes:v1'
    """
    check_registry(registry)
    if tag is not None and (not isinstance(tag, str) or not _TAG.fullmatch(tag)):
        raise InvalidConfiguration(f"invalid value for tag, expected letters, digits, '_', '.' or '-' such as 'v1' (not {tag!r})")
    client = client or connect()
    try:
        local = client.images.get(image)
    except ImageNotFound:
        raise PushFailed(f"image {image!r} is not on this engine; build it first") from None
    repository, own_tag = split_tag(image)
    target = f"{registry}/{_path(repository)}"
    version = tag or own_tag
    local.tag(target, version)
    reference = f"{target}:{version}"
    log(f"[mlnb] pushing {image} to {reference}")
    try:
        digest = _follow(client.api.push(target, tag=version, stream=True, decode=True), reference, log)
    except APIError as error:
        raise PushFailed(_explain(registry, str(error.explanation or error))) from None
    log(f"[mlnb] pushed {reference} ({digest})")
    return PushedImage(reference, digest)


def _path(repository: str) -> str:
    """The repository without a registry host of its own (``127.0.0.1:5000/a/b`` → ``a/b``)."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return rest
    return repository


def _follow(messages: Iterable[Mapping[str, Any]], reference: str, log: LogSink) -> str:
    states: dict[str, str] = {}
    marks: dict[str, int] = {}
    digest = ""
    for message in messages:
        if "error" in message:
            raise PushFailed(_explain(reference.split("/", 1)[0], str(message["error"]).strip()))
        aux = message.get("aux")
        if isinstance(aux, Mapping) and "Digest" in aux:
            digest = str(aux["Digest"])
        layer, status = message.get("id"), message.get("status")
        if not layer or not status or "digest:" in status:
            continue
        if states.get(layer) != status:
            states[layer] = status
            log(f"[mlnb] push {reference}: layer {layer} {status.lower()}")
        detail = message.get("progressDetail") or {}
        total, current = detail.get("total"), detail.get("current")
        if status == "Pushing" and total and current:
            done = 100 * current // total
            reached = [q for q in _QUARTERS if done >= q and marks.get(layer, 0) < q]
            if reached:
                marks[layer] = reached[-1]
                log(f"[mlnb] push {reference}: layer {layer} {reached[-1]}% of {total / 1e6:.1f} MB")
    if not digest:
        raise PushFailed(f"the registry did not confirm the push of {reference}; push again, or check the registry's log")
    return digest


def _explain(registry: str, detail: str) -> str:
    host = registry.split("/", 1)[0]
    lowered = detail.lower()
    if "unauthorized" in lowered or "authentication required" in lowered or "no basic auth credentials" in lowered or "denied" in lowered:
        return (
            f"the registry {host} refused the push ({detail}); log in with `docker login {host}` "
            "(mlnb uses the credentials of ~/.docker/config.json, or $DOCKER_CONFIG)"
        )
    if "connection refused" in lowered or "no such host" in lowered or "i/o timeout" in lowered or "dial tcp" in lowered:
        return f"no registry answers at {host} ({detail}); start it, or check the address"
    if "http response to https client" in lowered:
        return (
            f"the registry {host} speaks plain HTTP ({detail}); serve it over TLS, or list it in the engine's "
            "insecure-registries (127.0.0.1 is allowed by default)"
        )
    return f"the push to {host} failed: {detail}"
