"""Lifecycle decisions against the fake backend: nothing running is destroyed before its
replacement is proven, and one change of a service runs at a time."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.deploy import _records as records
from mlnb.deploy._lock import ServiceLock
from mlnb.deploy.backends import FakeBackend
from mlnb.errors import DeploymentFailed, DockerUnavailable, InvalidConfiguration, PortInUse, ServiceBusy


@pytest.fixture()
def running(fake: FakeBackend, project: tuple[Workspace, Model, Path]) -> tuple[Workspace, Model, InferenceConfig, Webservice]:
    workspace, model, source = project
    config = InferenceConfig(entry_script="score.py", source_directory=source)
    service = Model.deploy(workspace, "svc", [model], config, _fake())
    service.wait_for_deployment()
    return workspace, model, config, service


def _fake(**options: object) -> object:
    return LocalWebservice.deploy_configuration(backend="fake", **options)  # type: ignore[arg-type]


def _still_serving(fake: FakeBackend, service: Webservice) -> None:
    assert fake.stopped == [], "the running service was stopped"
    assert "svc" in fake.services and fake.services["svc"].ready
    assert service.state == "Healthy"


def test_overwrite_onto_a_taken_port_keeps_the_service(running: tuple[Workspace, Model, InferenceConfig, Webservice],
                                                      fake: FakeBackend) -> None:
    workspace, model, config, service = running
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse):
            Model.deploy(workspace, "svc", [model], config, _fake(port=port), overwrite=True)
    _still_serving(fake, service)


def test_overwrite_onto_an_unreachable_docker_keeps_the_service(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlnb.deploy import backends

    workspace, model, config, service = running
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(backends, "_INSTANCES", {"fake": fake})
    with pytest.raises(DockerUnavailable):
        Model.deploy(workspace, "svc", [model], config, LocalWebservice.deploy_configuration(backend="docker"), overwrite=True)
    _still_serving(fake, service)


def test_overwrite_with_a_wrong_inference_config_keeps_the_service(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend
) -> None:
    workspace, model, _, service = running
    with pytest.raises(InvalidConfiguration, match="InferenceConfig"):
        Model.deploy(workspace, "svc", [model], "score.py", _fake(), overwrite=True)  # type: ignore[arg-type]
    _still_serving(fake, service)


def test_overwrite_no_code_with_an_unknown_framework_keeps_the_service(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend, diabetes_model_file: Path
) -> None:
    workspace, _, _, service = running
    custom = Model.register(workspace, diabetes_model_file, "custom")
    with pytest.raises(InvalidConfiguration, match="SCIKITLEARN and ONNX"):
        Model.deploy(workspace, "svc", [custom], deployment_config=_fake(), overwrite=True)
    _still_serving(fake, service)


def test_an_update_whose_new_version_fails_keeps_the_old_one(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend
) -> None:
    _, _, config, service = running
    fake.fail_start = DeploymentFailed("init() raised ValueError: bad model")
    with pytest.raises(DeploymentFailed, match="the new version failed: .*bad model.*the old one is still serving"):
        service.update(inference_config=config)
    _still_serving(fake, service)
    assert service.error is None


def test_a_reload_whose_new_version_fails_keeps_the_old_one(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend
) -> None:
    _, _, _, service = running
    fake.fail_start = DeploymentFailed("init() raised ValueError: bad model")
    with pytest.raises(DeploymentFailed, match="the old one is still serving"):
        service.reload()
    _still_serving(fake, service)


def test_repr_of_a_deleted_service(running: tuple[Workspace, Model, InferenceConfig, Webservice]) -> None:
    workspace, _, _, service = running
    other = Webservice(workspace, "svc")
    service.delete()
    for handle in (service, other):
        assert "Deleted" in repr(handle)
        assert "Deleted" in handle._repr_html_()
        assert handle.state == "Deleted"
    assert records.find(workspace, "svc") is None


def test_a_change_under_way_makes_others_busy(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlnb.deploy import _lifecycle

    workspace, model, config, service = running
    monkeypatch.setattr(_lifecycle, "_DELETE_WAIT_SECONDS", 0.3)
    with ServiceLock(workspace, "svc"):  # what another kernel's update holds
        for change in (
            lambda: Model.deploy(workspace, "svc", [model], config, _fake(), overwrite=True),
            lambda: service.update(inference_config=config),
            service.reload,
            lambda: service.regen_key("Primary"),
            service.delete,
        ):
            with pytest.raises(ServiceBusy, match="'svc' is busy.*try again"):
                change()
    assert service.state == "Healthy"
    service.update(inference_config=config)  # free again


def test_a_background_start_knows_when_it_was_superseded(
    running: tuple[Workspace, Model, InferenceConfig, Webservice], fake: FakeBackend
) -> None:
    workspace, model, config, service = running
    deployment = fake.services["svc"].deployment
    runtime = service._record.runtime
    assert deployment.commit is not None
    with deployment.commit(runtime, threading.Event()) as current:
        assert current  # still the recorded version: a backend may start its server
    service.update(inference_config=config)
    with deployment.commit(runtime, threading.Event()) as current:
        assert not current  # replaced meanwhile
    cancel = threading.Event()
    cancel.set()
    with ServiceLock(workspace, "svc"), deployment.commit(service._record.runtime, cancel) as current:
        assert not current  # cancelled while another change holds the lock: gives up
