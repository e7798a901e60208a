"""Azure's deployment configurations locally: ACI's one note, AKS on Swarm (or its one line) and its Kubernetes mapping, the backend choice."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlnb.errors import InvalidConfiguration


@pytest.fixture(autouse=True)
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from mlnb.compat.azureml._hook import activate, deactivate

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.delenv("MLNB_AZUREML_BACKEND", raising=False)
    assert activate()
    yield
    deactivate()


def test_aci_applies_limits_and_auth_and_names_the_rest_in_one_note() -> None:
    from azureml.core.webservice import AciWebservice

    from mlnb.compat.azureml._notes import AzureMLCompatWarning

    with pytest.warns(AzureMLCompatWarning) as notes:
        config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, auth_enabled=True, tags={"a": "b"},
                                                    ssl_enabled=True, dns_name_label="svc", vnet_name="net")
    assert len(notes) == 1
    assert str(notes[0].message) == ("AciWebservice.deploy_configuration: ssl_enabled, dns_name_label, vnet_name have no local "
                                     "meaning (a local container has no Azure TLS, DNS, network, encryption, monitoring or "
                                     "preset keys); ignored")
    local = config._to_mlnb(base_image=None, environment_variables={})
    assert (local.cpu_cores, local.memory_gb, local.auth_enabled, local.backend) == (1, 1, True, "auto")


def test_aci_with_only_what_applies_says_nothing() -> None:
    from azureml.core.webservice import AciWebservice

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=0.5, description="d", tags={"k": "v"})


def test_the_backend_comes_from_the_keyword_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from azureml.core.webservice import AciWebservice, LocalWebservice

    assert LocalWebservice.deploy_configuration(port=8890).backend == "auto"
    monkeypatch.setenv("MLNB_AZUREML_BACKEND", "process")
    assert LocalWebservice.deploy_configuration(port=8890).backend == "process"
    assert AciWebservice.deploy_configuration(cpu_cores=1, backend="docker").backend == "docker"


@pytest.mark.parametrize("call", ["LocalWebservice.deploy_configuration(port=0)",
                                  "AciWebservice.deploy_configuration(cpu_cores=-1)",
                                  "AksWebservice.deploy_configuration(memory_gb=0)"])
def test_values_out_of_range_are_refused_at_once(call: str) -> None:
    from azureml.core.webservice import AciWebservice, AksWebservice, LocalWebservice

    with pytest.raises(InvalidConfiguration, match="invalid value for"):
        eval(call, {"LocalWebservice": LocalWebservice, "AciWebservice": AciWebservice, "AksWebservice": AksWebservice})


def test_deploying_to_aks_without_a_swarm_raises_one_line_pointing_at_swarm_and_kubernetes(
    diabetes_model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azureml.core import Model, Workspace
    from azureml.core.webservice import AksWebservice

    from mlnb.compat.azureml._cloud import AzureCloudOnly

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # no engine: certainly no swarm
    ws = Workspace.create("myworkspace", show_output=False)
    model = Model.register(ws, diabetes_model_file, "diabetes", model_framework=Model.Framework.SCIKITLEARN)
    config = AksWebservice.deploy_configuration(num_replicas=3, autoscale_enabled=False, cpu_cores=1, memory_gb=1)
    with pytest.raises(AzureCloudOnly) as failure:
        Model.deploy(ws, "aks-service", [model], deployment_config=config)
    message = str(failure.value)
    assert "\n" not in message and "no swarm manager: run `docker swarm init --advertise-addr 127.0.0.1`" in message
    assert "to_kube_spec" in message
    assert ws.webservices == {}


def test_aks_settings_map_onto_a_swarm_service_with_one_note_each() -> None:
    from azureml.core.webservice import AksWebservice

    from mlnb.compat.azureml._notes import AzureMLCompatWarning

    config = AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=2, autoscale_max_replicas=6,
                                                cpu_cores=0.5, memory_gb=1, scoring_timeout_ms=5000, gpu_cores=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local = config._to_mlnb(base_image=None, environment_variables={"A": "1"})
    assert (local.backend, local.replicas, local.cpu_cores, local.memory_gb, local.auth_enabled) == ("swarm", 2, 0.5, 1, True)
    assert dict(local.environment_variables) == {"A": "1", "SCORING_TIMEOUT_MS": "5000"}
    notes = [str(w.message) for w in caught if issubclass(w.category, AzureMLCompatWarning)]
    assert notes == [
        "AksWebservice on Swarm: autoscale_max_replicas, gpu_cores have no local meaning (a local Swarm service has no "
        "Azure probes, GPUs, monitoring, namespaces or preset keys); ignored",
        "AksWebservice on Swarm: nothing autoscales locally; the service runs 2 replica(s) (num_replicas, else "
        "autoscale_min_replicas), and service.mlnb.scale(n) changes that",
    ]
    fixed = AksWebservice.deploy_configuration(num_replicas=3, auth_enabled=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        local = fixed._to_mlnb(base_image=None, environment_variables={})
    assert (local.replicas, local.auth_enabled, caught) == (3, False, [])


def test_an_azure_deployment_target_is_refused(diabetes_model_file: Path) -> None:
    from azureml.core import Model, Workspace

    from mlnb.compat.azureml._cloud import AzureCloudOnly

    ws = Workspace.create("myworkspace", show_output=False)
    model = Model.register(ws, diabetes_model_file, "diabetes")
    with pytest.raises(AzureCloudOnly, match="deployment_target"):
        Model.deploy(ws, "svc", [model], deployment_target=object())


def test_aks_settings_map_onto_kubernetes_manifests() -> None:
    from azureml.core.webservice import AksWebservice

    from mlnb.kube import render_manifests

    config = AksWebservice.deploy_configuration(autoscale_enabled=True, autoscale_min_replicas=2, autoscale_max_replicas=6,
                                                autoscale_target_utilization=60, cpu_cores=0.5, memory_gb=1,
                                                cpu_cores_limit=1, scoring_timeout_ms=5000, namespace="ml")
    spec = config.to_kube_spec("diabetes", "registry.example.com/diabetes:1")
    assert spec.replica_range == (2, 6) and spec.target_cpu_utilization == 60
    assert (spec.cpu_request, spec.cpu_limit, spec.memory_request, spec.memory_limit) == ("500m", "1000m", "1024Mi", "1024Mi")
    assert spec.auth_enabled and spec.namespace == "ml" and dict(spec.environment) == {"SCORING_TIMEOUT_MS": "5000"}
    assert render_manifests(spec, keys=("primary", "secondary"))  # a spec mlnb renders


def test_aks_replicas_without_autoscale_are_the_deployment_count() -> None:
    from azureml.core.webservice import AksWebservice

    spec = AksWebservice.deploy_configuration(num_replicas=3).to_kube_spec("diabetes", "registry.example.com/diabetes:1")
    assert spec.replicas == 3 and spec.replica_range is None
    assert (spec.cpu_request, spec.memory_request) == ("100m", "512Mi")  # Azure's defaults: 0.1 core, 0.5 GB


def test_an_environment_with_a_dockerfile_is_refused_with_what_to_do(tmp_path: Path) -> None:
    from azureml.core import Environment
    from azureml.core.model import InferenceConfig

    (tmp_path / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    env = Environment.from_dockerfile("custom", "FROM python:3.11-slim\n")
    with pytest.raises(InvalidConfiguration, match="docker build -t myimage"):
        InferenceConfig(entry_script="score.py", environment=env)


def test_environment_settings_become_mlnbs(tmp_path: Path) -> None:
    from azureml.core import Environment
    from azureml.core.conda_dependencies import CondaDependencies
    from azureml.core.model import InferenceConfig

    from mlnb.compat.azureml._notes import AzureMLCompatWarning

    (tmp_path / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    env = Environment("myenv")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["azureml-defaults", "scikit-learn==1.5.2"],
                                                             conda_packages=["numpy"])
    env.docker.base_image = "mlnb-base:bookworm"
    env.environment_variables = {"MODE": "test"}
    with pytest.warns(AzureMLCompatWarning, match="pip options --find-links .* are dropped"):
        config = InferenceConfig(entry_script="score.py", environment=env)
    local = config._to_mlnb()
    assert local.environment is not None and local.environment.requirements == ("numpy", "scikit-learn==1.5.2")
    assert config._base_image() == "mlnb-base:bookworm" and config._environment_variables() == {"MODE": "test"}
    azure_image = Environment("other")
    assert InferenceConfig(entry_script="score.py", environment=azure_image)._base_image() is None  # Azure's own image


def test_environments_register_get_and_curated_names(tmp_path: Path) -> None:
    from azureml.core import Environment, Workspace

    from mlnb.compat.azureml._notes import AzureMLCompatWarning

    ws = Workspace.create("myworkspace", show_output=False)
    env = Environment("myenv")
    assert env.register(ws).version == "1" and env.register(ws).version == "1"  # unchanged: same version
    env.python.conda_dependencies.add_pip_package("scikit-learn")
    assert env.register(ws).version == "2"
    assert "scikit-learn" in Environment.get(ws, "myenv").python.conda_dependencies.pip_packages
    assert "scikit-learn" not in Environment.get(ws, "myenv", version="1").python.conda_dependencies.pip_packages
    with pytest.raises(InvalidConfiguration, match="no environment named 'nope'"):
        Environment.get(ws, "nope")
    curated = Environment.get(ws, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")
    with pytest.warns(AzureMLCompatWarning, match="curated Azure environment"):
        assert curated._to_mlnb(tmp_path) is None  # mlnb infers the service's requirements
    folder = tmp_path / "saved"
    Environment.get(ws, "myenv").save_to_directory(folder)
    assert Environment.load_from_directory(folder).python.conda_dependencies.pip_packages == ["azureml-defaults", "scikit-learn"]


def _model(ws: Any, path: Path, name: str, **kwargs: Any) -> Any:
    from azureml.core import Model

    return Model.register(ws, str(path), name, **kwargs)


def test_models_list_and_find_as_azure_filters(diabetes_model_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from azureml.core import Model, Workspace

    ws = Workspace.create("myworkspace", show_output=False)
    first = _model(ws, diabetes_model_file, "diabetes", tags={"area": "diabetes"}, model_framework="pytorch")
    _model(ws, diabetes_model_file, "diabetes")
    assert capsys.readouterr().out.count("Registering model diabetes") == 2
    assert [m.version for m in Model.list(ws, name="diabetes")] == [2, 1]
    assert [m.id for m in Model.list(ws, latest=True)] == ["diabetes:2"]
    assert [m.id for m in Model.list(ws, tags=[["area", "diabetes"]])] == ["diabetes:1"]
    assert [m.id for m in Model.list(ws, model_framework=Model.Framework.PYTORCH)] == ["diabetes:1"]
    assert Model.list(ws, run_id="abc") == []
    assert Model(ws, "diabetes", tags=["area"]) == first and Model(ws, id="diabetes:1").model_framework == "PyTorch"
    assert repr(first) == (f"Model(workspace={ws!r}, name=diabetes, id=diabetes:1, version=1, tags={{'area': 'diabetes'}}, "
                           "properties={})")


def test_tabular_and_file_datasets_read_local_files(tmp_path: Path) -> None:
    from azureml.core import Dataset, Workspace
    from azureml.data.dataset_type_definitions import PromoteHeadersBehavior

    (tmp_path / "rows.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "requests.txt").write_text('{"data": [[1]]}\n\n{"data": [[2]]}\n')
    table = Dataset.Tabular.from_delimited_files(str(tmp_path / "rows.csv"))
    assert table.to_pandas_dataframe().to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    lines = Dataset.Tabular.from_delimited_files("requests.txt", separator="\n", header=PromoteHeadersBehavior.NO_HEADERS)
    assert lines._requests() == ['{"data": [[1]]}', '{"data": [[2]]}']
    files = Dataset.File.from_files(str(tmp_path / "*.txt"))
    assert files.to_path() == ["/requests.txt"] and files._requests() == lines._requests()
    with pytest.raises(InvalidConfiguration, match="matches no file"):
        Dataset.Tabular.from_delimited_files("missing.csv")

    ws = Workspace.create("myworkspace", show_output=False)
    registered = table.register(ws, "rows")
    assert registered.version == 1 and Dataset.get_by_name(ws, "rows").to_pandas_dataframe().shape == (2, 2)
    assert Dataset.get_by_id(ws, registered.id).name == "rows" and list(ws.datasets) == ["rows"]
    with pytest.raises(InvalidConfiguration, match="create_new_version=True"):
        lines.register(ws, "rows")
    assert lines.register(ws, "rows", create_new_version=True).version == 2


def test_a_datastore_path_is_cloud_only() -> None:
    from azureml.core import Dataset

    from mlnb.compat.azureml._cloud import AzureCloudOnly

    with pytest.raises(AzureCloudOnly, match="pass local file paths"):
        Dataset.Tabular.from_delimited_files([(object(), "sample_request_data/file.txt")])


def test_a_local_handle_for_a_service_not_deployed_yet_is_unknown() -> None:
    from azureml.core import Workspace
    from azureml.core.webservice import LocalWebservice, Webservice

    from mlnb.errors import ServiceNotFound

    ws = Workspace.create("myworkspace", show_output=False)
    handle = LocalWebservice(ws, "later", must_exist=False)
    assert (handle.state, handle.port, handle.scoring_uri) == ("unknown", None, None)
    with pytest.raises(InvalidConfiguration, match="cannot call run\\(\\) when service 'later' is unknown"):
        handle.run("{}")
    with pytest.raises(ServiceNotFound):
        Webservice(ws, "later")


@pytest.mark.parametrize("name", ["myenv\n", "my٣env", "-myenv", "../myenv", "a" * 256])
def test_environment_names_are_checked_whole(tmp_path: Path, name: str) -> None:
    from azureml.core import Environment, Workspace

    ws = Workspace.create("myworkspace", show_output=False)
    with pytest.raises(InvalidConfiguration, match="invalid name"):
        Environment(name).register(ws)
