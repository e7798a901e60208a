"""Pruning the images mlnb built: the newest few of each service stay, older ones go.

Every rebuild of a service moves its tag (``mlnb/<service>:<workspace id>``) to the new
image and leaves the previous one untagged; the builder also keeps each earlier build
stage (the dependencies, with the wheelhouse) as an untagged image, the cache of the
next build. Each is a few hundred MB. mlnb labels every image it builds
(:func:`~mlnb.image.build_image`), and prunes by those labels only:

- ``mlnb.workspace``: the workspace's ``.mlnb`` folder;
- ``mlnb.service`` (a deployment: the service's name) or ``mlnb.package`` (``Model.package``:
  the package's image name);
- ``mlnb.tag``: the tag mlnb built the image under (any tag in its repository, or in a
  registry's copy of it as a push tags it, is mlnb's);
- ``mlnb.context``: a digest of the build context, shared by an image and its stages;
- ``mlnb.stage``: on the image of an earlier build stage, the stage's name.

What goes, for each service of a workspace:

- images beyond the newest ``keep`` (default 2, or ``$MLNB_KEEP_IMAGES``), newest meaning
  most recently built or tagged (a rebuild that found every layer cached tags the old
  image again, which makes it the newest);
- the stages of the images that go (a stage stays while an image built with it stays),
  and stages older than an hour whose build made no image (a build that was killed);
- for a package, every image but the newest under its name, with their stages: the
  newest is the user's deliverable and stays whatever ``keep`` says.

What stays, whatever ``keep`` says: an image a container uses (running or stopped), an
image that also carries a tag mlnb did not give it, and every image without mlnb's labels.
Nothing is forced: when the engine refuses a removal, the image stays and the report says why.
"""

from __future__ import annotations

import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import docker
from docker.errors import APIError, NotFound

from mlnb import _html
from mlnb.errors import InvalidConfiguration
from mlnb.image._engine import connect, first_line
from mlnb.registry import Workspace

WORKSPACE_LABEL = "mlnb.workspace"
SERVICE_LABEL = "mlnb.service"
PACKAGE_LABEL = "mlnb.package"
TAG_LABEL = "mlnb.tag"
CONTEXT_LABEL = "mlnb.context"
STAGE_LABEL = "mlnb.stage"

KEEP_IMAGES_VARIABLE = "MLNB_KEEP_IMAGES"
DEFAULT_KEEP_IMAGES = 2
_UNFINISHED_BUILD_S = 3600.0
_RFC3339 = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


@dataclass(frozen=True)
class PrunedImage:
    """One image that :func:`prune_images` looked at, and what it did with it.

    Attributes:
        id: the short image id.
        tags: the image's tags (none for a superseded image or a build stage).
        workspace: the workspace it was built in (its ``.mlnb`` folder).
        owner: ``"service NAME"`` or ``"package TAG"``.
        stage: the build stage's name for a stage image, else ``None``.
        created: when it was last built or tagged (the engine's creation or last tag time).
        reason: why it was removed, or why it stays.
    """

    id: str
    tags: tuple[str, ...]
    workspace: str
    owner: str
    stage: str | None
    created: datetime
    reason: str


@dataclass(frozen=True)
class PruneReport:
    """What :func:`prune_images` removed (or, with ``dry_run``, would remove) and kept.

    Attributes:
        removed: the images removed, or that a dry run would remove.
        kept: mlnb's images that stay, each with the reason.
        keep: how many images per service were kept.
        dry_run: whether nothing was actually removed.
    """

    removed: tuple[PrunedImage, ...]
    kept: tuple[PrunedImage, ...]
    keep: int
    dry_run: bool

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        lines = [f"{verb} {len(self.removed)} image(s) mlnb built; {len(self.kept)} stay (newest {self.keep} per service)"]
        lines += [f"  - {_describe(image)}" for image in self.removed]
        lines += [f"  = {_describe(image)}" for image in self.kept]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        rows = [(verb if image in self.removed else "kept", *_row(image)) for image in (*self.removed, *self.kept)]
        return _html.table(
            ["", "image", "tags", "owner", "stage", "created", "why", "workspace"],
            rows,
            empty="no image built by mlnb",
            title=f"prune: {verb} {len(self.removed)}, kept {len(self.kept)} (newest {self.keep} per service)",
        )


def keep_images_setting() -> int:
    """How many images per service to keep: ``$MLNB_KEEP_IMAGES``, else 2.

    Raises:
        InvalidConfiguration: when the variable is not a whole number of at least 0.
    """
    text = os.environ.get(KEEP_IMAGES_VARIABLE, "").strip()
    if not text:
        return DEFAULT_KEEP_IMAGES
    if not text.isdigit():
        raise InvalidConfiguration(
            f"{KEEP_IMAGES_VARIABLE}={text!r} is not a number of images; set it to how many images to keep per service, e.g. 2"
        )
    return int(text)


def prune_images(workspace: Workspace | None = None, *, keep: int | None = None, dry_run: bool = False) -> PruneReport:
    """Remove the images mlnb built that are no longer worth their space.

    Keeps the newest ``keep`` images of each service (and their build stages), removes
    older ones, images that rebuilds superseded, and stages of builds that made no image.
    Never removes an image a container uses, one tagged by someone else, or one mlnb did
    not build (see the module notes for the full rules).

    Args:
        workspace: prune this workspace's images; ``None`` prunes those of every workspace.
        keep: images to keep per service (default ``$MLNB_KEEP_IMAGES``, else 2).
        dry_run: only report what would be removed.

    Returns:
        What was removed and what stays, with reasons.

    Raises:
        DockerUnavailable: when no engine answers.
        InvalidConfiguration: when ``keep`` is negative.

    Example:
        >>> print(prune_images(ws, keep=1, dry_run=True))
        would remove 2 image(s) mlnb built; 1 stay (newest 1 per service)
    """
    client = connect()
    try:
        return prune(client, workspace=None if workspace is None else str(workspace.path), keep=keep, dry_run=dry_run)
    finally:
        client.close()


def prune(
    client: docker.DockerClient,
    *,
    workspace: str | None,
    owner: str | None = None,
    keep: int | None = None,
    dry_run: bool = False,
) -> PruneReport:
    """:func:`prune_images` on a connected engine, for one workspace (or all) and one owner (or all).

    Args:
        client: the engine.
        workspace: the ``mlnb.workspace`` label to prune, or ``None`` for every workspace.
        owner: only this owner's images (``"service NAME"`` or ``"package TAG"``).
        keep: images to keep per service (default :func:`keep_images_setting`).
        dry_run: only report.
    """
    keep = keep_images_setting() if keep is None else keep
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
        raise InvalidConfiguration(f"keep must be a whole number of images of at least 0 (not {keep!r})")
    images = _mlnb_images(client, workspace)
    in_use = _images_in_use(client)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for image in images:
        groups[(image["Labels"][WORKSPACE_LABEL], _owner(image))].append(image)
    removed: list[PrunedImage] = []
    kept: list[PrunedImage] = []
    for (_, group_owner), members in sorted(groups.items()):
        if owner is not None and group_owner != owner:
            continue
        for image, reason, remove in _plan(members, keep=keep, in_use=in_use, now=time.time()):
            if remove and not dry_run:
                refusal = _remove(client, image)
                if refusal is not None:
                    remove, reason = False, f"the engine refused: {refusal}"
            (removed if remove else kept).append(_entry(image, reason))
    return PruneReport(removed=tuple(removed), kept=tuple(kept), keep=keep, dry_run=dry_run)


def _mlnb_images(client: docker.DockerClient, workspace: str | None) -> list[dict[str, Any]]:
    """The top-level images (tagged, superseded and stages) that carry mlnb's labels, each
    with ``LastUsed``: when it was last built or tagged."""
    label = WORKSPACE_LABEL if workspace is None else f"{WORKSPACE_LABEL}={workspace}"
    images = []
    for image in client.api.images(filters={"label": label}):
        labels = image.get("Labels") or {}
        if SERVICE_LABEL not in labels and PACKAGE_LABEL not in labels:
            continue
        try:
            tagged = client.api.inspect_image(image["Id"])["Metadata"].get("LastTagTime", "")
        except NotFound:
            continue  # removed since the listing
        images.append({**image, "LastUsed": max(float(image["Created"]), _timestamp(tagged))})
    return images


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an engine time (RFC 3339, nanoseconds); 0 for none or the zero time."""
    match = _RFC3339.fullmatch(text)
    if match is None or match.group(1).startswith("0001-"):
        return 0.0
    whole, fraction, zone = match.groups()
    moment = datetime.fromisoformat(whole + ("+00:00" if zone == "Z" else zone))
    return moment.timestamp() + float(f"0{fraction or ''}"[:8])


def _images_in_use(client: docker.DockerClient) -> dict[str, str]:
    """Image id → the name of a container (running or stopped) that uses it."""
    return {container["ImageID"]: container["Names"][0].lstrip("/") for container in client.api.containers(all=True)}


def _owner(image: dict[str, Any]) -> str:
    labels = image["Labels"]
    if SERVICE_LABEL in labels:
        return f"service {labels[SERVICE_LABEL]}"
    return f"package {labels[PACKAGE_LABEL]}"


def _tags(image: dict[str, Any]) -> tuple[str, ...]:
    return tuple(tag for tag in image.get("RepoTags") or () if tag != "<none>:<none>")


def _plan(
    members: Sequence[dict[str, Any]], *, keep: int, in_use: dict[str, str], now: float
) -> Iterable[tuple[dict[str, Any], str, bool]]:
    """``(image, reason, remove)`` for each image of one owner."""
    finals = [image for image in members if STAGE_LABEL not in image["Labels"]]
    stages = [image for image in members if STAGE_LABEL in image["Labels"]]
    package = SERVICE_LABEL not in members[0]["Labels"]
    finals.sort(key=lambda image: (-image["LastUsed"], image["Id"]))
    decided: list[tuple[dict[str, Any], str, bool]] = []
    for rank, image in enumerate(finals):
        if package:
            remove = rank >= 1
            reason = "an older build of the package" if remove else "the package's newest image"
        else:
            remove = rank >= keep
            reason = f"older than the newest {keep} of the service" if remove else f"one of the newest {keep} of the service"
        decided.append(_veto(image, reason, remove, in_use))
    kept_contexts = {image["Labels"].get(CONTEXT_LABEL) for image, _, remove in decided if not remove}
    built_contexts = {image["Labels"].get(CONTEXT_LABEL) for image in finals}
    for stage in stages:
        context = stage["Labels"].get(CONTEXT_LABEL)
        if context in kept_contexts:
            decided.append(_veto(stage, "the build cache of an image that stays", False, in_use))
        elif context in built_contexts:
            decided.append(_veto(stage, "the build cache of an image that goes", True, in_use))
        elif now - stage["Created"] < _UNFINISHED_BUILD_S:
            decided.append((stage, "its build made no image yet (it may still be running)", False))
        else:
            decided.append(_veto(stage, "its build made no image (it failed or was interrupted)", True, in_use))
    return decided


def _veto(image: dict[str, Any], reason: str, remove: bool, in_use: dict[str, str]) -> tuple[dict[str, Any], str, bool]:
    if not remove:
        return image, reason, False
    if image["Id"] in in_use:
        return image, f"in use by container {in_use[image['Id']]}", False
    repository = _repository(image["Labels"].get(TAG_LABEL, ""))
    foreign = [tag for tag in _tags(image) if not _same_repository(_repository(tag), repository)]
    if foreign:
        return image, f"also tagged {', '.join(foreign)}, which mlnb did not do", False
    return image, reason, True


def _repository(tag: str) -> str:
    """``"mlnb/svc:ab12"`` → ``"mlnb/svc"`` (a registry's port is not a tag)."""
    name, _, version = tag.rpartition(":")
    return name if name and "/" not in version else tag


def _same_repository(name: str, repository: str) -> bool:
    """Whether ``name`` is ``repository``, or a registry's copy of it (``host:5000/<repository>``, what a push tags)."""
    return name == repository or name.endswith("/" + repository)


def _remove(client: docker.DockerClient, image: dict[str, Any]) -> str | None:
    """Remove an image (by its tags, the last of which takes the image, or by id), and the
    untagged parents no other image needs; the engine's refusal, if any."""
    try:
        for name in _tags(image) or (image["Id"],):
            client.api.remove_image(name, force=False, noprune=False)
    except NotFound:
        return None  # already gone
    except APIError as error:
        return error.explanation or first_line(error)
    return None


def _entry(image: dict[str, Any], reason: str) -> PrunedImage:
    labels = image["Labels"]
    return PrunedImage(
        id=image["Id"].removeprefix("sha256:")[:12],
        tags=_tags(image),
        workspace=labels[WORKSPACE_LABEL],
        owner=_owner(image),
        stage=labels.get(STAGE_LABEL),
        created=datetime.fromtimestamp(image["LastUsed"], tz=timezone.utc),
        reason=reason,
    )


def _describe(image: PrunedImage) -> str:
    what = f"stage {image.stage} of {image.owner}" if image.stage else image.owner
    tags = ", ".join(image.tags) or "untagged"
    return f"{image.id} {what} ({tags}, {image.created:%Y-%m-%d %H:%M}): {image.reason} [{image.workspace}]"


def _row(image: PrunedImage) -> tuple[str, ...]:
    return (
        image.id,
        ", ".join(image.tags) or "—",
        image.owner,
        image.stage or "",
        f"{image.created:%Y-%m-%d %H:%M}",
        image.reason,
        image.workspace,
    )
