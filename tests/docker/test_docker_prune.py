"""Pruning the images mlnb builds, against a real engine.

The images here are small (a two-stage build of a few text files on the base image), so
each build takes seconds; they go through :func:`mlnb.image.build_image` exactly as a
service's image does. Every prune is limited to the test's own workspace: the engine may
hold other people's images.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.cli import main
from mlnb.errors import DeploymentFailed, InvalidConfiguration
from mlnb.image import BuildContext, build_image, context_digest, prune_images

pytestmark = pytest.mark.docker

DOCKERFILE = """\
FROM {base} AS dependencies
COPY dependency.txt /opt/dependency.txt

FROM {base}
COPY --from=dependencies /opt/dependency.txt /opt/dependency.txt
COPY source.txt /opt/source.txt
{extra}
"""


class Builds:
    """Builds of one pretend service in a fresh workspace, and what each one logged."""

    def __init__(self, client: docker.DockerClient, base_image: str, folder: Path, *, package: bool = False) -> None:
        self.client = client
        self.package = package
        self.base_image = base_image
        self.workspace = Workspace.create(folder)
        self.service = f"prune{uuid.uuid4().hex[:8]}"
        self.tag = f"mlnb-test/{self.service}:latest"
        self.context = folder / "context"
        self.context.mkdir()
        self.logs: list[list[str]] = []

    @property
    def labels(self) -> dict[str, str]:
        owner = {"mlnb.package": self.tag} if self.package else {"mlnb.service": self.service}
        return {"mlnb.workspace": str(self.workspace.path), **owner}

    def build(self, source: str, *, dependency: str = "numpy==2.0", extra: str = "", keep: int | None = None) -> str:
        """Build with ``source.txt`` holding ``source``; return the image id."""
        dockerfile = DOCKERFILE.format(base=self.base_image, extra=extra)
        (self.context / "Dockerfile").write_text(dockerfile)
        (self.context / "dependency.txt").write_text(dependency)
        (self.context / "source.txt").write_text(source)
        context = BuildContext(
            directory=self.context, dockerfile=dockerfile, requirements=(), service_requirements=(), requirements_origin="given",
            notes=(), labels={"mlnb.models": "m:1"}, base_image=self.base_image, wheelhouse=self.context,
            digest=context_digest(self.context),
        )
        log: list[str] = []
        self.logs.append(log)
        build_image(self.client, context, self.tag, labels=self.labels, log=log.append, keep=keep)
        return str(self.client.images.get(self.tag).id)

    def images(self) -> dict[str, dict[str, str]]:
        """Image id → labels, for every top-level image of this workspace."""
        listed = self.client.api.images(filters={"label": f"mlnb.workspace={self.workspace.path}"})
        return {image["Id"]: image["Labels"] for image in listed}

    def finals(self) -> set[str]:
        return {image for image, labels in self.images().items() if "mlnb.stage" not in labels}

    def stages(self) -> dict[str, str]:
        """Stage image id → the context digest it was built for."""
        return {image: labels["mlnb.context"] for image, labels in self.images().items() if "mlnb.stage" in labels}

    def context_of(self, image: str) -> str:
        return str(self.client.images.get(image).labels["mlnb.context"])

    def exists(self, image: str) -> bool:
        try:
            self.client.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            return False
        return True

    def remove_all(self) -> None:
        for image in self.images():
            try:
                self.client.api.remove_image(image, force=True)
            except docker.errors.APIError:
                pass


def made_by(log: list[str]) -> list[str]:
    """The short ids of the images a build's steps made (not cached, not a FROM), from its log."""
    made, step, cached = [], "", False
    for line in log:
        if match := re.match(r"Step \d+/\d+ : (\w+)", line):
            step, cached = match.group(1), False
        elif line == " ---> Using cache":
            cached = True
        elif (image := re.fullmatch(r" ---> ([0-9a-f]{12})", line)) and step != "FROM" and not cached:
            made.append(image.group(1))
    return made


def untraceable(client: docker.DockerClient, image: str) -> bool:
    """Whether ``image`` is left as a top-level untagged image without mlnb's labels: a leak no prune could find."""
    try:
        attrs = client.api.inspect_image(image)
    except docker.errors.ImageNotFound:
        return False
    dangling = {entry["Id"] for entry in client.api.images(filters={"dangling": True})}
    return attrs["Id"] in dangling and "mlnb.workspace" not in (attrs["Config"]["Labels"] or {})


@pytest.fixture()
def builds(docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> Iterator[Builds]:
    made = Builds(docker_client, base_image, tmp_path / 'ws "$HOME" x')  # labels survive quotes, $ and spaces
    yield made
    made.remove_all()


def test_each_build_keeps_the_newest_images_of_the_service_and_their_stages(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_KEEP_IMAGES", "2")
    first = builds.build("one")
    second = builds.build("two")
    assert builds.finals() == {first, second}
    third = builds.build("three")

    assert builds.finals() == {second, third}  # the first went with the third build
    assert set(builds.stages().values()) == {builds.context_of(second), builds.context_of(third)}
    assert "[mlnb] removed 2 older image(s)" in "\n".join(builds.logs[-1])  # the first image and its stage
    for image in builds.stages():
        labels = builds.images()[image]
        assert labels["mlnb.workspace"] == str(builds.workspace.path) and labels["mlnb.stage"] == "dependencies"
        assert labels["mlnb.service"] == builds.service
    # No build left an untagged image without labels behind: each is gone, or a layer of a kept one.
    made = [image for log in builds.logs for image in made_by(log)]
    assert made and not any(untraceable(builds.client, image) for image in made)


def test_an_identical_rebuild_is_the_same_image(builds: Builds) -> None:
    first = builds.build("same")
    assert builds.build("same") == first
    assert builds.finals() == {first} and len(builds.stages()) == 1


def test_a_rebuild_reuses_the_dependency_layers(builds: Builds) -> None:
    builds.build("one")
    builds.build("two")
    log = builds.logs[-1]
    copy_dependency = next(i for i, line in enumerate(log) if re.fullmatch(r"Step 2/\d+ : COPY dependency.txt /opt/dependency.txt", line))
    assert log[copy_dependency + 1] == " ---> Using cache"
    copy_from = next(i for i, line in enumerate(log) if "COPY --from=dependencies" in line)
    assert log[copy_from + 1] == " ---> Using cache"


def test_a_failed_build_removes_the_images_it_made(builds: Builds, docker_client: docker.DockerClient) -> None:
    builds.build("good")
    before = builds.images()
    with pytest.raises(DeploymentFailed, match="the image build failed"):
        builds.build("bad", extra="RUN false")
    made = made_by(builds.logs[-1])
    assert made, "the failed build made images (the stage label, the copies)"
    assert [image for image in made if builds.exists(image)] == []
    assert builds.images() == before


def test_an_image_a_container_uses_stays_until_the_container_goes(builds: Builds, docker_client: docker.DockerClient) -> None:
    first = builds.build("one")
    container = docker_client.containers.create(first, ["true"], name=f"mlnb-test-prune-{uuid.uuid4().hex[:12]}")
    try:
        builds.build("two", keep=1)
        builds.build("three", keep=1)
        assert first in builds.finals()
        report = prune_images(builds.workspace, keep=1, dry_run=True)
        (entry,) = [image for image in report.kept if first.removeprefix("sha256:").startswith(image.id)]
        assert entry.reason == f"in use by container {container.name}"
    finally:
        container.remove(force=True)
    report = prune_images(builds.workspace, keep=1)
    assert first not in builds.finals() and len(builds.finals()) == 1
    assert any(first.removeprefix("sha256:").startswith(image.id) for image in report.removed)


def test_a_dry_run_removes_nothing_and_a_tag_someone_added_is_respected(builds: Builds, docker_client: docker.DockerClient) -> None:
    first = builds.build("one")
    second = builds.build("two")
    mine = f"mlnb-test-mine:{uuid.uuid4().hex[:12]}"
    docker_client.images.get(first).tag(mine)
    docker_client.images.get(second).tag(builds.tag.replace(":latest", ":content-key"))  # mlnb's repository: mlnb's tag
    docker_client.images.get(second).tag(f"127.0.0.1:5000/{builds.tag.replace(':latest', ':v1')}")  # as a push tags it
    try:
        before = builds.images()
        preview = prune_images(builds.workspace, keep=0, dry_run=True)
        assert builds.images() == before and preview.dry_run
        assert "would remove" in str(preview) and "<table" in preview._repr_html_()

        report = prune_images(builds.workspace, keep=0)
        assert builds.finals() == {first}  # kept for its other tag; the second image went, with its three tags
        assert not builds.exists(second)
        entry, stage = sorted(report.kept, key=lambda image: image.stage or "")
        assert entry.reason == f"also tagged {mine}, which mlnb did not do" and entry.tags == (mine,)
        assert stage.reason == "the build cache of an image that stays" and len(builds.stages()) == 1
    finally:
        docker_client.images.remove(mine)


def test_a_bad_keep_setting_stops_the_build_before_it_starts(builds: Builds, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLNB_KEEP_IMAGES", "-1")
    with pytest.raises(InvalidConfiguration, match="MLNB_KEEP_IMAGES='-1' is not a number of images"):
        builds.build("one")
    assert builds.logs[-1] == [] and builds.images() == {}


def test_a_package_keeps_its_newest_image_whatever_keep_says(docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> None:
    package = Builds(docker_client, base_image, tmp_path / "package", package=True)
    try:
        first = package.build("one", keep=0)
        second = package.build("two", keep=0)
        assert package.finals() == {second} and not package.exists(first)
        report = prune_images(package.workspace, keep=0)
        assert report.removed == () and {image.reason for image in report.kept} == {
            "the package's newest image", "the build cache of an image that stays"}
        assert {image.owner for image in report.kept} == {f"package {package.tag}"}
    finally:
        package.remove_all()


def test_images_mlnb_did_not_build_are_never_touched(builds: Builds, docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> None:
    builds.build("one")
    # An image that says it belongs to the workspace but was not built by mlnb (no service or package label).
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "Dockerfile").write_text(f"FROM {base_image}\n")
    image, _ = docker_client.images.build(path=str(foreign), labels={"mlnb.workspace": str(builds.workspace.path)}, rm=True)
    try:
        report = prune_images(builds.workspace, keep=0)
        assert len(report.removed) == 2 and builds.finals() == {image.id}  # the service's image and stage went
        assert builds.exists(image.id)
    finally:
        docker_client.images.remove(image.id)


def test_mlnb_prune_on_the_command_line(builds: Builds, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    builds.build("one")
    builds.build("two")
    folder = str(builds.workspace.path.parent)
    assert main(["prune", "-w", folder, "--keep", "1", "--dry-run"]) == 0
    shown = capsys.readouterr().out
    assert "would remove 2 image(s)" in shown and builds.service in shown
    assert len(builds.finals()) == 2

    monkeypatch.setenv("MLNB_KEEP_IMAGES", "1")
    assert main(["prune", "-w", folder]) == 0
    assert "removed 2 image(s)" in capsys.readouterr().out and len(builds.finals()) == 1

    monkeypatch.setenv("MLNB_KEEP_IMAGES", "two")
    assert main(["prune", "-w", folder]) == 1
    assert "MLNB_KEEP_IMAGES='two' is not a number" in capsys.readouterr().err


ECHO_SCRIPT = "def init():\n    pass\n\n\ndef run(data):\n    return {'echo': data, 'version': VERSION}\n"


def test_a_service_keeps_only_its_newest_images_across_updates(
    project: tuple[Workspace, Model, Path], docker_client: docker.DockerClient, base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, model, source = project
    monkeypatch.setenv("MLNB_KEEP_IMAGES", "1")
    (source / "score.py").write_text("VERSION = 1\n" + ECHO_SCRIPT)
    config = InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))
    service = Model.deploy(workspace, "kept", [model], config, LocalWebservice.deploy_configuration(backend="docker"))
    service.wait_for_deployment(timeout_sec=900)
    logs = [service.get_logs()]
    for version in (2, 3):
        (source / "score.py").write_text(f"VERSION = {version}\n" + ECHO_SCRIPT)
        service.update(inference_config=config)
        service.wait_for_deployment(timeout_sec=900)
        logs.append(service.get_logs())
    assert service.run(json.dumps({"data": 1}))["version"] == 3
    service.delete()  # the image stays, as the cache of the next deploy

    report = prune_images(workspace, keep=1)
    listed = docker_client.api.images(filters={"label": f"mlnb.workspace={workspace.path}"})
    finals = [image for image in listed if "mlnb.stage" not in image["Labels"]]
    stages = [image for image in listed if "mlnb.stage" in image["Labels"]]
    assert len(finals) == 1 and finals[0]["RepoTags"] and finals[0]["Labels"]["mlnb.service"] == "kept"
    assert [stage["Labels"]["mlnb.context"] for stage in stages] == [finals[0]["Labels"]["mlnb.context"]]
    assert all(image.owner == "service kept" for image in (*report.removed, *report.kept))
    # What each build made is gone, or a layer of the image that stays: no leak prune could not see.
    made = [image for log in logs for image in made_by(log.splitlines())]
    assert made and not any(untraceable(docker_client, image) for image in made)
