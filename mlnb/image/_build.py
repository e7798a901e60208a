"""Building images on the Docker engine: making sure the base image is there, building a
context from :func:`mlnb.image.assemble_context` with its log streamed line by line, and
cleaning up after the build.

The Docker backend builds every deployment's image here, and ``Model.package`` too.
Every image a build makes carries mlnb's labels (the final image and each earlier stage,
which the builder keeps as the cache of the next build), so :mod:`mlnb.image._prune` can
tell mlnb's images from any other. A failed or cancelled build removes the images it
made; a successful one prunes the older images of the same service.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import docker
from docker.errors import DockerException, ImageNotFound

from mlnb.errors import BaseImageNotFound, DeploymentFailed
from mlnb.image._context import BuildContext
from mlnb.image._engine import connect, first_line
from mlnb.image._prune import (
    CONTEXT_LABEL,
    PACKAGE_LABEL,
    SERVICE_LABEL,
    STAGE_LABEL,
    TAG_LABEL,
    WORKSPACE_LABEL,
    keep_images_setting,
    prune,
)

__all__ = ["LogSink", "build_image", "ensure_base_image"]

LogSink = Callable[[str], None]
"""Receives one line of log at a time."""

_INSTRUCTION = re.compile(r"\s*([A-Za-z]+)(\s|$)")
_STAGE_NAME = re.compile(r"\s*FROM\s+.*\s+AS\s+(\S+)\s*$", re.IGNORECASE)
_STEP = re.compile(r"Step \d+/\d+ : (\w+)")
_STEP_IMAGE = re.compile(r" ---> ([0-9a-f]{12})$")


def build_image(
    client: docker.DockerClient,
    context: BuildContext,
    tag: str,
    *,
    labels: dict[str, str],
    log: LogSink,
    cancel: threading.Event | None = None,
    keep: int | None = None,
) -> None:
    """Build a context made by :func:`mlnb.image._context.assemble_context`, streaming the build log.

    Setting ``cancel`` stops at the next build output; closing the stream makes the
    engine abandon the build. A failed or cancelled build removes the images it made.
    After a successful build of a service (``labels`` name ``mlnb.workspace`` and
    ``mlnb.service``, or ``mlnb.package``), that service's older images are pruned,
    keeping ``keep`` (default ``$MLNB_KEEP_IMAGES``, else 2).

    Raises:
        BaseImageNotFound: when the base image is neither present nor pullable.
        DeploymentFailed: when a build step fails.
        InvalidConfiguration: when ``$MLNB_KEEP_IMAGES`` is not a number (before building).
    """
    prunes = WORKSPACE_LABEL in labels and (SERVICE_LABEL in labels or PACKAGE_LABEL in labels)
    keep = keep_images_setting() if keep is None and prunes else keep
    ensure_base_image(context.base_image, client=client, log=log)
    image_labels = {**labels, **context.labels, TAG_LABEL: tag, CONTEXT_LABEL: context.digest[:16]}
    ownership = {key: image_labels[key] for key in (WORKSPACE_LABEL, SERVICE_LABEL, PACKAGE_LABEL, TAG_LABEL, CONTEXT_LABEL) if key in image_labels}
    log(f"[mlnb] building image {tag} on {context.base_image}")
    created: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlnb-build-") as scratch:
        # Outside the context, so the saved context keeps its own Dockerfile; docker-py sends it along.
        dockerfile = Path(scratch) / "Dockerfile"
        dockerfile.write_text(label_stages(context.dockerfile, ownership), encoding="utf-8")
        try:
            if not _stream_build(client, context, tag, dockerfile, image_labels, log, cancel, created):
                _remove_made(client, created)
                return
        except BaseException:
            _remove_made(client, created)
            raise
    if prunes:
        _prune_after_build(client, image_labels, keep, log)


def _stream_build(
    client: docker.DockerClient,
    context: BuildContext,
    tag: str,
    dockerfile: Path,
    labels: dict[str, str],
    log: LogSink,
    cancel: threading.Event | None,
    created: list[str],
) -> bool:
    """Run the build, logging its lines and noting in ``created`` each image a step made; False when cancelled."""
    instruction, cached = "", False
    for chunk in client.api.build(
        path=str(context.directory), dockerfile=str(dockerfile), tag=tag, labels=labels, rm=True, forcerm=True, decode=True
    ):
        if cancel is not None and cancel.is_set():
            return False
        if "stream" in chunk:
            for line in chunk["stream"].splitlines():
                if step := _STEP.match(line):
                    instruction, cached = step.group(1).upper(), False
                elif line == " ---> Using cache":
                    cached = True
                elif (made := _STEP_IMAGE.match(line)) and instruction != "FROM" and not cached:
                    created.append(made.group(1))
                if line.strip():
                    log(line)
        elif "error" in chunk:
            raise DeploymentFailed(f"the image build failed: {chunk['error'].strip()}")
    return True


def _remove_made(client: docker.DockerClient, created: list[str]) -> None:
    """Remove the untagged images a failed build made, newest first (never forced: one
    another build has used since stays)."""
    for image in reversed(created):
        try:
            if not client.api.inspect_image(image).get("RepoTags"):
                client.api.remove_image(image, force=False, noprune=False)
        except (DockerException, OSError):
            continue  # gone with a child already, or in use: nothing of ours to remove


def _prune_after_build(client: docker.DockerClient, labels: Mapping[str, str], keep: int | None, log: LogSink) -> None:
    owner = f"service {labels[SERVICE_LABEL]}" if SERVICE_LABEL in labels else f"package {labels[PACKAGE_LABEL]}"
    try:
        report = prune(client, workspace=labels[WORKSPACE_LABEL], owner=owner, keep=keep)
    except (DockerException, OSError) as error:
        log(f"[mlnb] warning: the older images of {owner} were not pruned ({first_line(error)}); run `mlnb prune` later")
        return
    if report.removed:
        log(f"[mlnb] removed {len(report.removed)} older image(s) of {owner}, keeping the newest {report.keep} (MLNB_KEEP_IMAGES)")


def label_stages(dockerfile: str, labels: Mapping[str, str]) -> str:
    """``dockerfile`` with a ``LABEL`` of ``labels`` (and ``mlnb.stage``) ending every stage but the last.

    The builder keeps each earlier stage as an untagged image; labelled, they can be told
    apart and pruned with the image they were built for. The label comes last in its
    stage, so the steps before it stay one cache for every service.
    """
    lines = dockerfile.splitlines()
    starts: list[tuple[int, str]] = []
    continued = False
    for number, line in enumerate(lines):
        meaningful = bool(line.strip()) and not line.lstrip().startswith("#")
        is_instruction = meaningful and not continued
        if is_instruction and (word := _INSTRUCTION.match(line)) and word.group(1).upper() == "FROM":
            named = _STAGE_NAME.match(line)
            starts.append((number, named.group(1) if named else str(len(starts))))
        if meaningful:
            continued = line.rstrip().endswith("\\")
    # From the last stage back, so the line numbers still ahead stay right.
    for (_, stage), (next_start, _) in reversed(list(zip(starts, starts[1:], strict=False))):
        values = {**labels, STAGE_LABEL: stage}
        lines.insert(next_start, "LABEL " + " ".join(f"{key}={_quote(value)}" for key, value in values.items()))
    return "\n".join(lines) + "\n"


def _quote(value: str) -> str:
    # A double-quoted Dockerfile word: backslash escapes, and no variable expansion.
    return json.dumps(value, ensure_ascii=False).replace("$", "\\$")


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
            f"base image {image!r} is not present and cannot be pulled ({first_line(error)}); "
            "set MLNB_BASE_IMAGE or base_image= to an image with Python 3.11 (see docs/development.md)"
        ) from None
