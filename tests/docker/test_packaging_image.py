"""A build context becomes an image that answers ``POST /score``, built and run for real.

The context holds a scikit-learn model saved with joblib and an entry script that only
imports joblib: the model's library must come from dependency inference, pinned to the
version installed here, through the host-side wheelhouse.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import joblib
import pytest
import requests
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from mlnb.config import InferenceConfig
from mlnb.image import CONTAINER_PORT, BuildContext, assemble_context

SCORE = """\
import json
import os

import joblib


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


def run(raw_data):
    return model.predict(json.loads(raw_data)["data"]).tolist()
"""


@dataclass
class LocalModel:
    """A registered model over a plain file, as the registry's Model materializes."""

    name: str
    version: int
    path: Path

    @property
    def artifact_name(self) -> str:
        return self.path.name

    def materialize(self, target_dir: Path) -> Path:
        target = target_dir / self.artifact_name
        os.link(self.path, target)
        return target


@pytest.fixture()
def context(tmp_path: Path, base_image: str) -> tuple[BuildContext, Ridge]:
    x, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(x, y)
    joblib.dump(model, tmp_path / "model.joblib")
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(SCORE)
    built = assemble_context(
        [LocalModel("diabetes", 1, tmp_path / "model.joblib")],
        InferenceConfig("score.py", source_directory=source),
        target_dir=tmp_path / "context",
        wheelhouse_cache=tmp_path / "cache",
        base_image=base_image,
        log=lambda _: None,
    )
    return built, model


@pytest.fixture()
def images(docker_client: docker.DockerClient) -> Iterator[list[str]]:
    """Images the test creates, removed afterwards (the tag first, then untagged stages)."""
    created: list[str] = []
    yield created
    for name in created:
        try:
            docker_client.images.remove(name, force=True)
        except (docker.errors.ImageNotFound, docker.errors.APIError):
            pass


def build(client: docker.DockerClient, context: BuildContext, tag: str, images: list[str]) -> None:
    """Build through the low-level API, streaming as the Docker backend does."""
    images.append(tag)
    lines: list[str] = []
    for chunk in client.api.build(path=str(context.directory), tag=tag, labels=dict(context.labels), rm=True, forcerm=True, decode=True):
        if "error" in chunk:
            pytest.fail(f"docker build failed: {chunk['error']}\n{''.join(lines)}")
        lines.append(chunk.get("stream", ""))
    # The classic builder keeps the dependencies stage as an untagged image: its last
    # layer is the one reported just before the second FROM.
    log = "".join(lines)
    second_from = [m.start() for m in re.finditer(r"Step \d+/\d+ : FROM", log)][1]
    images.extend(re.findall(r" ---> ([0-9a-f]{12})", log[:second_from])[-1:])


def wait_ready(url: str, container: docker.models.containers.Container) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            pytest.fail(f"container exited:\n{container.logs().decode()}")
        try:
            if requests.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    pytest.fail(f"service not ready after 120 s:\n{container.logs().decode()}")


@pytest.mark.docker
def test_context_builds_an_image_that_scores(docker_client: docker.DockerClient, context: tuple[BuildContext, Ridge], images: list[str]) -> None:
    built, model = context
    assert any(r.startswith("scikit-learn==") for r in built.service_requirements)
    tag = f"mlnb-test-packaging:{uuid.uuid4().hex[:12]}"

    build(docker_client, built, tag, images)
    container = docker_client.containers.run(
        tag, detach=True, name=f"mlnb-test-packaging-{uuid.uuid4().hex[:12]}",
        ports={f"{CONTAINER_PORT}/tcp": ("127.0.0.1", None)},
    )
    try:
        container.reload()
        port = container.ports[f"{CONTAINER_PORT}/tcp"][0]["HostPort"]
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, container)
        rows = load_diabetes().data[:2].tolist()

        response = requests.post(f"{url}/score", data=json.dumps({"data": rows}), headers={"Content-Type": "application/json"}, timeout=30)

        assert response.status_code == 200, response.text
        assert response.json() == pytest.approx(model.predict(rows).tolist())
        user = container.exec_run(["id", "-u"]).output.decode().strip()
        runtime = container.exec_run(["python", "-c", "import mlnb, os; print(os.path.getsize(mlnb.__file__))"]).output.decode().strip()
        assert (user, runtime) == ("10001", "0")
    finally:
        container.remove(force=True)
