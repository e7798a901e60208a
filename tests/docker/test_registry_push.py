"""Pushing images to a real registry on 127.0.0.1: Debian's ``docker-registry`` (Distribution 2.8).

Each test module run starts its own registry processes on free ports, one without auth and
one with htpasswd auth, from a copy of the packaged ``/etc/docker/registry/config.yml``
(ENVIRONMENT.md), and stops them at the end. The images pushed are small ones built
here on the base image, plus one real deployment with ``registry=``.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.config import Environment
from mlnb.errors import InvalidConfiguration, PushFailed
from mlnb.image import push_image

pytestmark = pytest.mark.docker

PACKAGED_CONFIG = Path("/etc/docker/registry/config.yml")
USER, PASSWORD = "alice", f"pw-{uuid.uuid4().hex}"
SCORE = "def init():\n    pass\n\n\ndef run(raw_data):\n    return {'echo': raw_data}\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _registry_config(folder: Path, port: int, htpasswd: Path | None) -> Path:
    """The packaged config with our address and storage, and auth only when asked."""
    lines, skipping = [], False
    for line in PACKAGED_CONFIG.read_text().splitlines():
        if skipping and line.startswith((" ", "\t")):
            continue
        skipping = False
        if line.startswith("auth:"):
            skipping = True
            continue
        stripped = line.strip()
        if stripped.startswith("addr:"):
            line = line.replace(stripped, f"addr: 127.0.0.1:{port}")
        elif stripped.startswith("rootdirectory:"):
            line = line.replace(stripped, f"rootdirectory: {folder / 'data'}")
        lines.append(line)
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: mlnb-test", f"    path: {htpasswd}"]
    path = folder / "config.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start_registry(folder: Path, *, auth: bool) -> Iterator[str]:
    if shutil.which("docker-registry") is None or not PACKAGED_CONFIG.is_file():
        pytest.fail("Debian's docker-registry is not installed: apt-get install -y docker-registry apache2-utils (.ci/run does)")
    folder.mkdir(parents=True)
    htpasswd = None
    if auth:
        htpasswd = folder / "htpasswd"
        subprocess.run(["htpasswd", "-Bbc", str(htpasswd), USER, PASSWORD], check=True, capture_output=True)
    port = _free_port()
    config = _registry_config(folder, port, htpasswd)
    with open(folder / "registry.log", "wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the registry did not start: {(folder / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry without auth."""
    yield from _start_registry(tmp_path_factory.mktemp("registry") / "open", auth=False)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry with htpasswd auth (user alice)."""
    yield from _start_registry(tmp_path_factory.mktemp("registry") / "auth", auth=True)


@pytest.fixture()
def small_image(docker_client: docker.DockerClient, base_image: str) -> Iterator[str]:
    """A one-layer image on the base image, unique to the test; removed with every tag it got."""
    name = f"mlnb-test-push/{uuid.uuid4().hex[:8]}:one"
    dockerfile = f"FROM {base_image}\nRUN echo {uuid.uuid4().hex} > /marker\n".encode()
    image, _ = docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=name, rm=True, forcerm=True)
    yield name
    for tag in docker_client.images.get(image.id).tags:
        docker_client.images.remove(tag)


def _tags(registry: str, repository: str, **kwargs: object) -> list[str]:
    answer = requests.get(f"http://{registry}/v2/{repository}/tags/list", timeout=10, **kwargs)  # type: ignore[arg-type]
    answer.raise_for_status()
    return list(answer.json()["tags"])


def test_push_sends_the_image_and_logs_progress(registry: str, small_image: str, docker_client: docker.DockerClient) -> None:
    lines: list[str] = []

    pushed = push_image(small_image, f"{registry}/team", tag="v1", client=docker_client, log=lines.append)

    repository = f"team/{small_image.split(':')[0]}"
    assert pushed.reference == f"{registry}/{repository}:v1"
    assert pushed.digest.startswith("sha256:") and pushed.pinned == f"{registry}/{repository}@{pushed.digest}"
    assert _tags(registry, repository) == ["v1"]
    assert any("pushed" in line for line in lines if "layer" in line)
    assert lines[-1] == f"[mlnb] pushed {pushed.reference} ({pushed.digest})"
    # The registry holds exactly that manifest.
    manifest = requests.head(
        f"http://{registry}/v2/{repository}/manifests/v1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=10,
    )
    assert manifest.headers["Docker-Content-Digest"] == pushed.digest
    again: list[str] = []
    assert push_image(small_image, f"{registry}/team", tag="v1", client=docker_client, log=again.append) == pushed
    assert any("layer already exists" in line for line in again)


def test_push_uses_the_docker_config_credentials_and_never_logs_them(
    auth_registry: str, small_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "empty-config"))
    lines: list[str] = []
    with pytest.raises(PushFailed, match=rf"refused the push .*docker login {auth_registry}"):
        push_image(small_image, auth_registry, client=docker.from_env(), log=lines.append)

    config = tmp_path / "docker-config"
    config.mkdir()
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (config / "config.json").write_text(json.dumps({"auths": {auth_registry: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    pushed = push_image(small_image, auth_registry, client=docker.from_env(), log=lines.append)

    assert _tags(auth_registry, small_image.split(":")[0], auth=(USER, PASSWORD)) == ["one"]
    assert pushed.reference == f"{auth_registry}/{small_image}"
    assert not any(PASSWORD in line or token in line for line in lines)


def test_push_to_nothing_says_no_registry_answers(small_image: str, docker_client: docker.DockerClient) -> None:
    with pytest.raises(PushFailed, match=r"no registry answers at 127\.0\.0\.1:"):
        push_image(small_image, f"127.0.0.1:{_free_port()}", client=docker_client, log=lambda line: None)
    with pytest.raises(InvalidConfiguration, match="invalid value for tag"):
        push_image(small_image, "127.0.0.1:5000", tag="no spaces", client=docker_client)
    with pytest.raises(PushFailed, match="is not on this engine"):
        push_image("mlnb-test-push/absent:1", "127.0.0.1:5000", client=docker_client)


def test_a_deployment_with_registry_pushes_its_image(
    registry: str, base_image: str, tmp_path: Path, docker_client: docker.DockerClient, seed_payload: dict[str, object]
) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    (tmp_path / "model.txt").write_text("no weights")
    model = Model.register(workspace, tmp_path / "model.txt", "pushed-model")
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(SCORE)
    config = InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))
    service = Model.deploy(
        workspace, "pushsvc", [model], config, LocalWebservice.deploy_configuration(backend="docker", registry=registry)
    )
    image = service._record.runtime["image"]
    repository = image.split(":")[0]
    try:
        service.wait_for_deployment(timeout_sec=900)
        logs = service.get_logs()
        tags = _tags(registry, repository)
        assert len(tags) == 1 and tags[0].startswith(image.split(":")[1] + "-")
        assert f"[mlnb] pushed {registry}/{repository}:{tags[0]}" in logs
        assert service.run(json.dumps(seed_payload)) == {"echo": json.dumps(seed_payload)}
    finally:
        service.delete()
        for tag in docker_client.images.list(name=f"{registry}/{repository}"):
            for name in tag.tags:
                docker_client.images.remove(name)
        for local in docker_client.images.list(name=repository):
            for name in local.tags:
                docker_client.images.remove(name, force=True)
