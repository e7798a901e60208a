"""How the Docker backend's build thread reports what stopped it, against a real engine.

An mlnb error is one line in the deployment log; anything else is a bug to report, and
its traceback is kept. Both fail before the image build starts, so the module is quick.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.errors import DeploymentFailed, InvalidConfiguration
from mlnb.image import _context as image_context

pytestmark = pytest.mark.docker


def _config(source: Path) -> InferenceConfig:
    return InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))


def test_a_bug_in_the_build_thread_keeps_its_traceback_in_the_log(
    project: tuple[Workspace, Model, Path], docker_client: docker.DockerClient, base_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace, model, source = project

    def copy_runtime(destination: Path) -> None:  # a bug in the build thread, not a user mistake
        raise KeyError("runtime")

    monkeypatch.setattr(image_context, "_copy_runtime", copy_runtime)
    service = Model.deploy(workspace, "buggy", [model], _config(source), LocalWebservice.deploy_configuration(backend="docker"))
    with pytest.raises(DeploymentFailed, match="KeyError"):
        service.wait_for_deployment(timeout_sec=120)
    logs = service.get_logs()
    assert "[mlnb] error: Traceback (most recent call last):" in logs
    assert "in assemble_context" in logs and "in copy_runtime" in logs and "KeyError: 'runtime'" in logs
    assert service.state == "Failed"


def test_a_dangling_link_in_the_source_is_one_line(
    project: tuple[Workspace, Model, Path], docker_client: docker.DockerClient, base_image: str
) -> None:
    workspace, model, source = project
    (source / "lookup.csv").symlink_to(source / "moved-away.csv")
    with pytest.raises(InvalidConfiguration, match="'lookup.csv' is a symlink to .*moved-away.csv, which does not exist"):
        Model.deploy(workspace, "brokenlink", [model], _config(source), LocalWebservice.deploy_configuration(backend="docker"))
    assert "brokenlink" not in [s.name for s in Webservice.list(workspace)]  # refused before anything was recorded


def test_an_mlnb_error_in_the_build_thread_is_one_line(
    project: tuple[Workspace, Model, Path], docker_client: docker.DockerClient, base_image: str
) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="docker", base_image="mlnb-test-absent-base:0")
    service = Model.deploy(workspace, "nobase", [model], _config(source), config)
    with pytest.raises(DeploymentFailed, match="not present and cannot be pulled"):
        service.wait_for_deployment(timeout_sec=300)
    errors = [line for line in service.get_logs().splitlines() if line.startswith("[mlnb] error:")]
    assert len(errors) == 1 and "mlnb-test-absent-base:0" in errors[0]
    assert "Traceback" not in service.get_logs()
