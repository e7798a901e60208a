"""The deployment engine (records, states, errors) against the fake backend."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.deploy.backends import FakeBackend
from mlnb.errors import (
    DeploymentFailed,
    DeploymentTimeout,
    InvalidConfiguration,
    ModelNotFound,
    PortInUse,
    ServiceExists,
    ServiceNotFound,
)

TRACEBACK = """Traceback (most recent call last):
  File "/var/azureml-app/score.py", line 9, in init
    model = joblib.load(path)
FileNotFoundError: [Errno 2] No such file or directory: 'missing.pkl'
server: init() failed, exiting"""


@pytest.fixture()
def setup(fake: FakeBackend, project: tuple[Workspace, Model, Path]) -> tuple[Workspace, Model, InferenceConfig]:
    # fake first: it is torn down last, after the project has deleted its services on it
    workspace, model, source = project
    return workspace, model, InferenceConfig(entry_script="score.py", source_directory=source)


def _config(**options: object) -> object:
    return LocalWebservice.deploy_configuration(backend="fake", **options)  # type: ignore[arg-type]


def test_deploy_records_the_service(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    service.wait_for_deployment()
    assert service.state == "Healthy"
    assert service.scoring_uri == f"http://127.0.0.1:{service.port}/score"
    assert service.swagger_uri.endswith("/swagger.json")
    assert service.models == ["sklearn_regression_model:1"]
    assert any(r.startswith("scikit-learn==") for r in service.requirements)
    assert fake.services["svc"].deployment.requirements == tuple(service.requirements)
    again = Webservice(workspace, "svc")
    assert again.state == "Healthy" and again.port == service.port
    assert [s.name for s in Webservice.list(workspace)] == ["svc"]


def test_inferred_requirements_are_logged(setup: tuple[Workspace, Model, InferenceConfig]) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    logs = service.get_logs()
    assert "Inferred" in logs and "scikit-learn==" in logs and "joblib==" in logs


def test_a_taken_name_needs_overwrite(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    first = Model.deploy(workspace, "svc", [model], config, _config())
    with pytest.raises(ServiceExists, match="overwrite=True"):
        Model.deploy(workspace, "svc", [model], config, _config())
    second = Model.deploy(workspace, "svc", [model], config, _config(workers=2), overwrite=True)
    # A running service is switched to the new version, on its own port, never stopped first.
    assert fake.stopped == [] and fake.services["svc"].switches == 1
    assert second.port == first.port and second.state == "Healthy"


def test_overwrite_replaces_a_failed_service_directly(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    Model.deploy(workspace, "svc", [model], config, _config())
    fake.crash("svc", "gone")
    assert Webservice(workspace, "svc").state == "Failed"
    fake.start_ready = False
    second = Model.deploy(workspace, "svc", [model], config, _config(), overwrite=True)
    assert fake.stopped == ["svc"] and fake.services["svc"].switches == 0
    assert second.state == "Transitioning"


def test_wait_shows_logs_and_reports_init_failure(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    fake.start_ready = False
    service = Model.deploy(workspace, "svc", [model], config, _config())
    assert service.state == "Transitioning"
    fake.crash("svc", TRACEBACK)
    out = io.StringIO()
    with pytest.raises(DeploymentFailed) as failure:
        service.wait_for_deployment(show_output=True, out=out)
    assert "FileNotFoundError" in str(failure.value)
    assert "server: init() failed" not in str(failure.value)  # the message ends at the exception line
    assert "exited with status 3" in str(failure.value)
    assert TRACEBACK in failure.value.logs
    assert "[mlnb] deploying 'svc'" in out.getvalue()
    assert service.state == "Failed"
    assert Webservice(workspace, "svc").state == "Failed"


def test_wait_times_out(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    fake.start_ready = False
    service = Model.deploy(workspace, "svc", [model], config, _config())
    with pytest.raises(DeploymentTimeout, match="not ready after"):
        service.wait_for_deployment(timeout_sec=0.3)


def test_a_service_that_stops_answering_is_unhealthy(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    assert service.state == "Healthy"
    fake.hang("svc")
    assert service.state == "Unhealthy"


def test_start_failure_marks_the_service_failed(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    fake.fail_start = PortInUse("port 1 is in use")
    with pytest.raises(PortInUse):
        Model.deploy(workspace, "svc", [model], config, _config())
    service = Webservice(workspace, "svc")
    assert service.state == "Failed" and service.error == "port 1 is in use"


def test_update_keeps_the_port_and_changes_models(setup: tuple[Workspace, Model, InferenceConfig], diabetes_model_file: Path) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    port = service.port
    newer = Model.register(workspace, diabetes_model_file, "sklearn_regression_model")
    service.update(models=[newer])
    assert service.port == port
    assert service.models == ["sklearn_regression_model:2"]
    assert service.state == "Healthy"


def test_reload_restarts_on_new_source(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    service.reload()
    assert fake.services["svc"].reloads == 1
    assert "reload" in service.get_logs()


def test_keys(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    plain = Model.deploy(workspace, "plain", [model], config, _config())
    assert not plain.auth_enabled and not plain.token_auth_enabled
    with pytest.raises(InvalidConfiguration, match="auth_enabled=True"):
        plain.get_keys()
    service = Model.deploy(workspace, "keyed", [model], config, _config(auth_enabled=True))
    primary, secondary = service.get_keys()
    assert primary != secondary and len(primary) >= 32
    assert fake.services["keyed"].deployment.keys == (primary, secondary)
    service.regen_key("Secondary")
    assert service.get_keys()[0] == primary and service.get_keys()[1] != secondary
    assert fake.services["keyed"].deployment.keys == service.get_keys()
    with pytest.raises(InvalidConfiguration, match="Primary"):
        service.regen_key("Tertiary")


def test_delete_is_idempotent(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    service.delete()
    service.delete()
    assert service.state == "Deleted"
    assert not (workspace.path / "services" / "svc").exists()
    with pytest.raises(ServiceNotFound, match="no service is deployed"):
        Webservice(workspace, "svc")


@pytest.mark.parametrize("name", ["A", "ab", "Upper-case", "-lead", "trail-", "x" * 33, "under_score"])
def test_service_names_follow_azure_rules(setup: tuple[Workspace, Model, InferenceConfig], name: str) -> None:
    workspace, model, config = setup
    with pytest.raises(InvalidConfiguration, match="3-32 lowercase"):
        Model.deploy(workspace, name, [model], config, _config())


def test_clear_errors_for_models(setup: tuple[Workspace, Model, InferenceConfig]) -> None:
    workspace, model, config = setup
    with pytest.raises(ModelNotFound, match="ghost"):
        Model.deploy(workspace, "svc", ["ghost:1"], config, _config())
    with pytest.raises(InvalidConfiguration, match="non-empty list"):
        Model.deploy(workspace, "svc", model, config, _config())  # type: ignore[arg-type]


def test_port_in_use_is_reported(setup: tuple[Workspace, Model, InferenceConfig]) -> None:
    import socket

    workspace, model, config = setup
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(PortInUse, match=rf"port {port} is in use.*leave port out of LocalWebservice\.deploy_configuration"):
            Model.deploy(workspace, "svc", [model], config, _config(port=port))


def test_no_code_deployment_writes_a_typed_entry_script(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, _ = setup
    Model.deploy(workspace, "nocode", [model], deployment_config=_config())
    deployment = fake.services["nocode"].deployment
    script = deployment.inference_config.entry_script_path.read_text()
    assert "@input_schema" in script and "sklearn_regression_model.pkl" in script
    assert "np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]" in script


def test_no_code_needs_a_known_framework(setup: tuple[Workspace, Model, InferenceConfig], diabetes_model_file: Path) -> None:
    workspace, _, _ = setup
    custom = Model.register(workspace, diabetes_model_file, "custom")
    with pytest.raises(InvalidConfiguration, match="SCIKITLEARN and ONNX"):
        Model.deploy(workspace, "nocode", [custom], deployment_config=_config())


def test_docker_requested_but_unreachable(setup: tuple[Workspace, Model, InferenceConfig], monkeypatch: pytest.MonkeyPatch) -> None:
    from mlnb.deploy import backends
    from mlnb.errors import DockerUnavailable

    workspace, model, config = setup
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(backends, "_INSTANCES", {})
    with pytest.raises(DockerUnavailable, match="backend='process'"):
        Model.deploy(workspace, "svc", [model], config, LocalWebservice.deploy_configuration(backend="docker"))
    backend, how = backends.resolve_backend("auto")
    assert backend.name == "process" and "no Docker engine here: using local processes" in how


def test_a_failed_service_frees_its_port(setup: tuple[Workspace, Model, InferenceConfig], fake: FakeBackend) -> None:
    workspace, model, config = setup
    service = Model.deploy(workspace, "svc", [model], config, _config())
    port = service.port
    fake.crash("svc", "gone")
    assert service.state == "Failed"
    again = Model.deploy(workspace, "other", [model], config, _config(port=port))
    assert again.port == port
