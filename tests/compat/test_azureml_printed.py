"""What the azureml layer's objects print and save, against what azureml-core 1.61 printed (azureml_printed.json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PRINTED = json.loads((Path(__file__).parent / "azureml_printed.json").read_text())["cases"]
SEED_CONDA = """\
name: project_environment
dependencies:
  - python=3.6.2
  - scikit-learn=0.20.0
  - pip:
    - azureml-defaults
    - inference-schema[numpy-support]
"""


@pytest.fixture(autouse=True)
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from mlnb.compat.azureml._hook import activate, deactivate

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLNB_AZUREML_BACKEND", raising=False)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "myenv.yml").write_text(SEED_CONDA)
    (tmp_path / "requirements.txt").write_text("scikit-learn\nnumpy\n")
    assert activate()
    yield
    deactivate()


def _conda_case(name: str) -> Any:
    from azureml.core.conda_dependencies import CondaDependencies

    if name == "CondaDependencies()":
        return CondaDependencies()
    if name.startswith("CondaDependencies.create(pip_packages=[azureml-defaults"):
        return CondaDependencies.create(pip_packages=["azureml-defaults", "inference-schema[numpy-support]"],
                                        conda_packages=["scikit-learn==0.20.0"])
    return CondaDependencies.create(python_version="3.11", pip_packages=["scikit-learn"], conda_packages=["numpy"])


@pytest.mark.parametrize("case", sorted(name for name in PRINTED if name.startswith("CondaDependencies")))
def test_conda_dependencies_print_as_azures(case: str) -> None:
    dependencies = _conda_case(case)
    expected = PRINTED[case]
    assert dependencies.serialize_to_string() == expected["serialize_to_string()"]
    assert dependencies.get_python_version() == expected["get_python_version()"]
    assert (list(dependencies.conda_channels), list(dependencies.conda_packages), list(dependencies.pip_packages)) == (
        expected["conda_channels"], expected["conda_packages"], expected["pip_packages"])


def _environment_case(name: str) -> Any:
    from azureml.core import Environment

    if name == "Environment('x')":
        return Environment("x")
    if "from_conda_specification" in name:
        return Environment.from_conda_specification("myenv", "env/myenv.yml")
    return Environment.from_pip_requirements("myenv", "requirements.txt")


@pytest.mark.parametrize("case", sorted(name for name in PRINTED if name.startswith("Environment")))
def test_environments_print_as_azures(case: str) -> None:
    environment = _environment_case(case)
    expected = PRINTED[case]
    assert repr(environment) == expected["repr"]
    assert environment.python.conda_dependencies.serialize_to_string() == expected["python.conda_dependencies.serialize_to_string()"]
    for attribute in ("docker.base_image", "docker.base_dockerfile", "docker.enabled", "docker.shm_size",
                      "python.interpreter_path", "python.user_managed_dependencies", "python.conda_dependencies_file",
                      "environment_variables", "inferencing_stack_version", "name", "version"):
        section, _, field = attribute.rpartition(".")
        value = getattr(getattr(environment, section) if section else environment, field)
        assert value == expected[attribute], attribute


@pytest.mark.parametrize("case", sorted(name for name in PRINTED if ".deploy_configuration(" in name))
def test_deployment_configurations_hold_azures_attributes(case: str) -> None:
    from azureml.core.webservice import AciWebservice, AksWebservice, LocalWebservice

    configuration = eval(case, {"AciWebservice": AciWebservice, "AksWebservice": AksWebservice,
                                "LocalWebservice": LocalWebservice})
    expected = PRINTED[case]
    assert type(configuration).__name__ == expected["type"].rsplit(".", 1)[1]
    assert {name: getattr(configuration, name) for name in expected["attributes"]} == expected["attributes"]


def test_resource_configuration_serializes_as_azures() -> None:
    from azureml.core.resource_configuration import ResourceConfiguration

    expected = PRINTED["ResourceConfiguration(cpu=1, memory_in_gb=0.5)"]
    configuration = ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    assert configuration.serialize() == expected["serialize()"]
    assert {n: getattr(configuration, n) for n in expected["attributes"]} == expected["attributes"]
    assert ResourceConfiguration.deserialize(configuration.serialize()) == configuration


def test_inference_config_prints_as_azures(tmp_path: Path) -> None:
    from azureml.core.model import InferenceConfig

    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    config = InferenceConfig(runtime="python", entry_script="x/y/score.py", conda_file="env/myenv.yml")
    expected = PRINTED["InferenceConfig(runtime='python', entry_script='x/y/score.py', conda_file='env/myenv.yml')"]
    registry = "<azureml.core.container_registry.ContainerRegistry object>"
    assert repr(config).replace(repr(config.base_image_registry), registry) == expected["repr"]
    attributes = {n: getattr(config, n) for n in expected["attributes"] if n not in ("base_image_registry", "environment")}
    assert attributes == {n: v for n, v in expected["attributes"].items() if n not in ("base_image_registry", "environment")}


def test_workspace_prints_and_writes_config_as_azures(tmp_path: Path) -> None:
    from azureml.core import Workspace

    expected = PRINTED["Workspace(...) and write_config(path)"]
    ws = Workspace("00000000-0000-0000-0000-000000000000", "my-resource-group", "myworkspace")
    assert repr(ws) == expected["repr"]
    ws.write_config(path=tmp_path / "out")
    assert json.loads((tmp_path / "out" / ".azureml" / "config.json").read_text()) == expected["write_config(path)"][".azureml/config.json"]


def test_model_framework_prints_as_azures() -> None:
    from azureml.core import Model

    assert {name: getattr(Model.Framework, name) for name in PRINTED["Model.Framework"]} == PRINTED["Model.Framework"]


def test_the_default_images_are_azures() -> None:
    from azureml.core.environment import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE

    assert [DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE] == PRINTED["DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE"]
