"""InferenceConfig and DeploymentConfiguration: validated on construction, loaded from Azure CLI JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlnb.config import DeploymentConfiguration, Environment, InferenceConfig, LocalWebservice, ResourceConfiguration
from mlnb.errors import EntryScriptError, InvalidConfiguration

SCORE = "def init():\n    pass\n\ndef run(data):\n    return data\n"


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seed-shaped project: x/y/score.py and env/myenv.yml, as the current directory."""
    (tmp_path / "x" / "y").mkdir(parents=True)
    (tmp_path / "x" / "y" / "score.py").write_text(SCORE)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "myenv.yml").write_text("dependencies:\n  - python=3.11\n  - pip:\n    - joblib\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_seed_style_config_uses_the_scripts_folder_as_source(project: Path) -> None:
    config = InferenceConfig(runtime="python", entry_script="x/y/score.py", conda_file="env/myenv.yml")

    assert config.source_directory == project / "x" / "y"
    assert config.entry_script == "score.py"
    assert config.conda_file == project / "env" / "myenv.yml"
    assert config.environment is not None and config.environment.requirements == ("joblib",)


def test_with_source_directory_paths_are_relative_to_it(project: Path) -> None:
    config = InferenceConfig("x/y/score.py", source_directory=project, conda_file="env/myenv.yml")

    assert config.source_directory == project
    assert config.entry_script == "x/y/score.py"
    assert config.entry_script_path == project / "x" / "y" / "score.py"


def test_environment_and_conda_file_are_exclusive(project: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="exclusive"):
        InferenceConfig("x/y/score.py", environment=Environment("e"), conda_file="env/myenv.yml")


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        (None, {"entry_script": "missing.py"}, "does not exist"),
        ("score.txt", {"entry_script": "score.txt"}, "not a .py file"),
        ("broken.py", {"entry_script": "broken.py"}, r"does not parse: .*\(line 1\)"),
        (None, {"entry_script": "../score.py", "source_directory": "x"}, "outside source_directory"),
    ],
)
def test_entry_script_problems_are_entry_script_errors(project: Path, setup: str | None, kwargs: dict, message: str) -> None:
    if setup:
        (project / setup).write_text("def run(:\n")
    with pytest.raises(EntryScriptError, match=message):
        InferenceConfig(**kwargs)


def test_other_runtimes_are_refused(project: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="runtime 'spark-py' is not supported"):
        InferenceConfig("x/y/score.py", runtime="spark-py")


def test_inference_config_serialize_round_trips(project: Path) -> None:
    env = Environment.from_pip_packages("e", ["joblib==1.4"])
    config = InferenceConfig("x/y/score.py", source_directory=project, environment=env, description="d")

    again = InferenceConfig.deserialize(json.loads(json.dumps(config.serialize())))

    assert again == config
    assert again.environment == env


def test_azure_cli_inferenceconfig_json_loads_relative_to_the_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Azure's own sample, with its null fields; the file sits in x/y with the script.
    (project / "x" / "y" / "myenv.yml").write_text("dependencies:\n  - pip:\n    - joblib\n")
    path = project / "x" / "y" / "inferenceconfig.json"
    path.write_text(json.dumps({
        "entryScript": "score.py", "runtime": "python", "condaFile": "myenv.yml", "extraDockerfileSteps": None,
        "sourceDirectory": None, "enableGpu": False, "baseImage": None, "baseImageRegistry": None,
    }))
    monkeypatch.chdir("/")

    config = InferenceConfig.from_json(path)

    assert config.entry_script_path == project / "x" / "y" / "score.py"
    assert config.environment is not None and config.environment.requirements == ("joblib",)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"entryScript": "x/y/score.py", "entry": 1}, r"unknown key 'entry'; accepted: entryScript, sourceDirectory"),
        ({"entryScript": "x/y/score.py", "enableGpu": True}, "enableGpu is set but GPU images are not supported"),
        ({"runtime": "python"}, "entryScript is required"),
    ],
)
def test_bad_inferenceconfig_json_is_refused(project: Path, data: dict, message: str) -> None:
    path = project / "ic.json"
    path.write_text(json.dumps(data))

    with pytest.raises(InvalidConfiguration, match=message):
        InferenceConfig.from_json(path)


def test_deploy_configuration_defaults_and_values() -> None:
    config = LocalWebservice.deploy_configuration(8890, cpu_cores=0.5, memory_gb=1, workers=2, environment_variables={"A": "1"})

    assert (config.port, config.cpu_cores, config.memory_gb, config.workers) == (8890, 0.5, 1, 2)
    assert config.backend == "auto" and config.auth_enabled is False and config.base_image is None
    assert config.environment_variables == {"A": "1"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"port": 0}, "invalid value for port"),
        ({"port": 70000}, "invalid value for port"),
        ({"port": True}, "invalid value for port"),
        ({"cpu_cores": 0}, "invalid value for cpu_cores"),
        ({"memory_gb": float("nan")}, "invalid value for memory_gb"),
        ({"backend": "kube"}, r'expected "auto", "docker", "process", "swarm" \(not \'kube\'\)'),
        ({"workers": 0}, "invalid value for workers"),
        ({"auth_enabled": "yes"}, "invalid value for auth_enabled"),
        ({"base_image": "python 3"}, "invalid value for base_image"),
        ({"environment_variables": {"A": 1}}, "invalid environment variable"),
    ],
)
def test_deploy_configuration_refuses_values_out_of_range(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidConfiguration, match=message):
        LocalWebservice.deploy_configuration(**kwargs)


def test_deployment_configuration_copies_the_environment_dict() -> None:
    variables = {"A": "1"}
    config = LocalWebservice.deploy_configuration(environment_variables=variables)
    variables["A"] = "2"

    assert config.environment_variables == {"A": "1"}


def test_azure_cli_deploymentconfig_json_loads(tmp_path: Path) -> None:
    path = tmp_path / "deploymentconfig.json"
    path.write_text(json.dumps({
        "computeType": "local", "port": 32267, "authEnabled": True,
        "containerResourceRequirements": {"cpu": 1, "memoryInGB": 0.5},
    }))

    config = DeploymentConfiguration.from_json(path)

    assert config == LocalWebservice.deploy_configuration(32267, cpu_cores=1, memory_gb=0.5, auth_enabled=True)
    assert DeploymentConfiguration.deserialize(config.serialize()) == config


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"port": 1, "sslEnabled": False}, r"unknown key 'sslEnabled'; accepted: computeType, port"),
        ({"computeType": "ACI"}, "computeType 'ACI' is not supported"),
        ({"cpuCores": 1, "containerResourceRequirements": {"cpu": 2}}, "not both"),
        ({"port": "8890"}, "invalid value for port"),
    ],
)
def test_bad_deploymentconfig_json_is_refused(tmp_path: Path, data: dict, message: str) -> None:
    path = tmp_path / "dc.json"
    path.write_text(json.dumps(data))

    with pytest.raises(InvalidConfiguration, match=message):
        DeploymentConfiguration.from_json(path)


def test_unreadable_json_says_so(tmp_path: Path) -> None:
    path = tmp_path / "dc.json"
    path.write_text("{port: 1}")

    with pytest.raises(InvalidConfiguration, match="is not valid JSON"):
        DeploymentConfiguration.from_json(path)


def test_resource_configuration_is_unchanged() -> None:
    assert ResourceConfiguration(cpu=1, memory_in_gb=0.5).serialize() == {"cpu": 1, "memoryInGB": 0.5}
