"""An identical ``Model.deploy(..., overwrite=True)`` onto a Healthy service leaves it running;
any change (models, source, environment, configuration, keys) still switches."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.deploy import _records as records
from mlnb.deploy.backends import FakeBackend

UNCHANGED = "unchanged (same models, source, configuration, keys and packages), so the running version stays: still Healthy"


@pytest.fixture()
def deployed(fake: FakeBackend, project: tuple[Workspace, Model, Path]) -> tuple[Workspace, Model, Path, Webservice]:
    workspace, model, source = project
    service = Model.deploy(workspace, "svc", [model], InferenceConfig("score.py", source_directory=source), _config())
    service.wait_for_deployment()
    return workspace, model, source, service


def _config(**options: Any) -> Any:
    return LocalWebservice.deploy_configuration(backend="fake", **options)


def _redeploy(workspace: Workspace, model: Model, source: Path, **options: Any) -> Webservice:
    config = InferenceConfig("score.py", source_directory=source, environment=options.pop("environment", None))
    return Model.deploy(workspace, "svc", [model], config, _config(**options), overwrite=True)


def test_an_identical_redeploy_leaves_the_service_running(
    deployed: tuple[Workspace, Model, Path, Webservice], fake: FakeBackend
) -> None:
    workspace, model, source, service = deployed
    again = _redeploy(workspace, model, source)
    again = _redeploy(workspace, model, source, port=service.port)  # its own port, named: the same

    assert fake.services["svc"].switches == 0 and fake.stopped == []
    assert again.state == "Healthy"
    assert again.get_logs().count(UNCHANGED) == 2


def _edit_source(workspace: Workspace, model: Model, source: Path) -> dict[str, Any]:
    (source / "score.py").write_text((source / "score.py").read_text() + "\n# edited\n")
    return {}


def _add_file(workspace: Workspace, model: Model, source: Path) -> dict[str, Any]:
    (source / "helper.txt").write_text("shipped with the service")
    return {}


CHANGES: dict[str, Callable[[Workspace, Model, Path], dict[str, Any]]] = {
    "source edited": _edit_source,
    "source file added": _add_file,
    "environment": lambda *_: {"environment": Environment.from_pip_packages("e", ["joblib"])},
    "environment variable": lambda *_: {"environment_variables": {"A": "1"}},
    "limits": lambda *_: {"cpu_cores": 0.5},
    "workers": lambda *_: {"workers": 2},
    "keys": lambda *_: {"auth_enabled": True},
    "base image": lambda *_: {"base_image": "another-base:1"},
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_switches(deployed: tuple[Workspace, Model, Path, Webservice], fake: FakeBackend, change: str) -> None:
    workspace, model, source, service = deployed
    options = CHANGES[change](workspace, model, source)

    again = _redeploy(workspace, model, source, **options)

    assert fake.services["svc"].switches == 1, change
    assert UNCHANGED not in again.get_logs()


def test_a_new_model_version_switches(
    deployed: tuple[Workspace, Model, Path, Webservice], fake: FakeBackend, diabetes_model_file: Path
) -> None:
    workspace, model, source, _ = deployed
    newer = Model.register(workspace, diabetes_model_file, model.name)

    _redeploy(workspace, newer, source)

    assert fake.services["svc"].switches == 1


def test_a_service_that_is_not_ready_is_switched(deployed: tuple[Workspace, Model, Path, Webservice], fake: FakeBackend) -> None:
    workspace, model, source, _ = deployed
    fake.services["svc"].ready = False

    _redeploy(workspace, model, source)

    assert fake.services["svc"].switches == 1


def test_a_scaled_service_is_switched_by_the_next_redeploy(
    deployed: tuple[Workspace, Model, Path, Webservice], fake: FakeBackend
) -> None:
    workspace, model, source, service = deployed
    spec = {key: value for key, value in service._record.spec.items() if key != "fingerprint"}  # what scale() leaves
    records.update(workspace, "svc", spec=spec)

    _redeploy(workspace, model, source)

    assert fake.services["svc"].switches == 1


def test_an_identical_process_redeploy_takes_under_a_second(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = InferenceConfig("score.py", source_directory=source)
    deployment = LocalWebservice.deploy_configuration(backend="process")
    service = Model.deploy(workspace, "fast", [model], config, deployment)
    service.wait_for_deployment(timeout_sec=120)
    pid = service._record.runtime["pid"]

    started = time.perf_counter()
    again = Model.deploy(workspace, "fast", [model], config, deployment, overwrite=True)
    again.wait_for_deployment(timeout_sec=120)
    elapsed = time.perf_counter() - started

    assert again._record.runtime["pid"] == pid, "the server was restarted"
    assert elapsed < 1.0, f"an identical redeploy took {elapsed:.2f} s"
