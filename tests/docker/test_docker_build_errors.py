"""How the Docker backend's build thread reports what stopped it, against a real engine.

An mlnb error is one line in the deployment log; anything else is a bug to report, and
its traceback is kept. Both fail before the image build starts, so the module is quick.
"""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.errors import DeploymentFailed

pytestmark = pytest.mark.docker


def _config(source: Path) -> InferenceConfig:
    return InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))


def test_a_bug_in_the_build_thread_keeps_its_traceback_in_the_log(
    project: tuple[Workspace, Model, Path], docker_client: docker.DockerClient, base_image: str
) -> None:
    workspace, model, source = project
    (source / "lookup.csv").symlink_to(source / "moved-away.csv")  # copying it raises FileNotFoundError
    service = Model.deploy(workspace, "brokenlink", [model], _config(source), LocalWebservice.deploy_configuration(backend="docker"))
    with pytest.raises(DeploymentFailed, match="FileNotFoundError"):
        service.wait_for_deployment(timeout_sec=120)
    logs = service.get_logs()
    assert "[mlnb] error: Traceback (most recent call last):" in logs
    assert "in assemble_context" in logs and "FileNotFoundError" in logs and "lookup.csv" in logs
    assert service.state == "Failed"


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
