"""collect_data=True on the Docker backend: the container writes into the workspace through a
bind mount, as a non-root user, and a reload's new container writes into the same folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.image import SERVER_USER_ID

pytestmark = pytest.mark.docker

Project = tuple[Workspace, Model, Path]
ROW = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}


@pytest.fixture()
def collect_project(
    tmp_path: Path,
    project_maker: Callable[[Path, Path, str], Iterator[Project]],
    diabetes_model_file: Path,
    seed_score_script: str,
    base_image: str,
) -> Iterator[Project]:
    yield from project_maker(tmp_path, diabetes_model_file, seed_score_script)


def test_a_docker_service_collects_into_the_workspace_across_a_reload(collect_project: Project, docker_client: docker.DockerClient) -> None:
    workspace, model, source = collect_project
    config = LocalWebservice.deploy_configuration(backend="docker", collect_data=True,
                                                  environment_variables={"MLNB_COLLECT_INTERVAL": "0.2"})
    service = Model.deploy(workspace, "dockercollect", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=600)
    for _ in range(3):
        service.run(ROW)
    first = service._record.runtime["container"]
    assert docker_client.containers.get(first).exec_run(["id", "-u"]).output.strip() != b"0"
    service.reload()
    for _ in range(2):
        service.run(ROW)

    deadline = time.monotonic() + 20
    while len(frame := service.get_collected_data()) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(frame) == 5 and set(frame["status"]) == {200}

    folder = workspace.path / "collected" / "service=dockercollect"
    owner = os.getuid() if os.getuid() != 0 else SERVER_USER_ID
    assert folder.stat().st_mode & 0o777 == 0o700 and folder.stat().st_uid == owner
    files = list(folder.rglob("part-*.parquet"))
    assert files and {path.stat().st_uid for path in files} == {owner}
    service.delete()
