"""The seed page's Azure ML v1 local-deployment flow, run unchanged but for ``import mlnb.azureml``.

``azure_flow.py`` is the Azure code (register, an Environment from a conda file,
``LocalWebservice.deploy_configuration(port=...)``, ``Model.deploy``, ``wait_for_deployment``,
``run``, ``get_logs``, ``reload``, ``update``, ``delete``, ``Model.profile`` with a dataset,
``Model.package(generate_dockerfile=True)`` and ``save``); it runs in a fresh interpreter in
a copy of ``project/`` (the seed's ``score.py``, which imports ``sklearn.externals.joblib``,
and its conda file) with Azure's ``config.json``. ``MLNB_AZUREML_BACKEND=process`` picks the
process backend (Azure's LocalWebservice was Docker; the Docker run is tests/docker/).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SCOPE = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group"
         "/providers/Microsoft.MachineLearningServices/workspaces/myworkspace")


def azure_project(folder: Path, model_file: Path) -> Path:
    """``folder`` laid out as the seed's Azure project: score.py, the conda file, the model, config.json, requests."""
    shutil.copytree(HERE / "project", folder, dirs_exist_ok=True)
    shutil.copy(model_file, folder / "sklearn_regression_model.pkl")
    (folder / ".azureml").mkdir()
    (folder / ".azureml" / "config.json").write_text(json.dumps({"Id": None, "Scope": SCOPE}))
    request = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]})
    (folder / "sample_request_data.txt").write_text("\n".join([request] * 50))
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_flow(folder: Path, backend: str, timeout: float) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MLNB_WORKSPACE", "AZUREML_", "MLNB_AZUREML"))}
    environ.update({"PYTHONPATH": str(ROOT), "MLNB_AZUREML_BACKEND": backend, "FLOW_PORT": str(free_port())})
    return subprocess.run([sys.executable, str(HERE / "azure_flow.py")], cwd=folder, env=environ, capture_output=True,
                          text=True, timeout=timeout, check=False)


def lines(output: str, prefix: str) -> list[str]:
    return [line[len(prefix):].strip() for line in output.splitlines() if line.startswith(prefix)]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory, diabetes_model_file: Path) -> tuple[Path, str]:
    folder = azure_project(tmp_path_factory.mktemp("azure-project"), diabetes_model_file)
    done = run_flow(folder, "process", timeout=540)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder, done.stdout


def test_the_workspace_comes_from_azures_config_json(flow: tuple[Path, str]) -> None:
    folder, output = flow
    assert lines(output, "workspace:") == ["myworkspace 00000000-0000-0000-0000-000000000000 my-resource-group local"]
    assert (folder / ".mlnb" / "registry.db").is_file()


def test_registering_prints_as_azure_does(flow: tuple[Path, str]) -> None:
    _, output = flow
    assert "Registering model sklearn_mnist\nsklearn_mnist\tsklearn_mnist:1\t1\n" in output


def test_the_service_deploys_runs_and_reloads_with_the_seed_script(flow: tuple[Path, str], diabetes_model_file: Path) -> None:
    import joblib

    _, output = flow
    expected = joblib.load(diabetes_model_file).predict([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
    assert "Local webservice is running at http://127.0.0.1:" in output
    assert lines(output, "running") == [""]  # print(service.state) after wait_for_deployment
    assert json.loads(lines(output, "predictions:")[0]) == pytest.approx(list(expected))
    # run() right after reload() waited for the reloaded server, which serves the edited script.
    assert json.loads(lines(output, "after reload:")[0]) == pytest.approx([2 * v for v in expected])
    assert json.loads(lines(output, "after update:")[0]) == pytest.approx([2 * v for v in expected])
    port, scoring, swagger = lines(output, "port:")[0].split()
    assert scoring == f"http://127.0.0.1:{port}/score" and swagger == f"http://127.0.0.1:{port}/swagger.json"
    assert lines(output, "logs:") == ["5 lines"]
    assert lines(output, "deleted:") == ["deleted []"]


def test_the_profile_reports_azures_details(flow: tuple[Path, str]) -> None:
    _, output = flow
    state, cpu, memory = lines(output, "profile:")[0].split()
    assert state == "Succeeded" and float(cpu) > 0 and float(memory) > 0
    details = set(json.loads(lines(output, "details:")[0]))
    assert {"name", "state", "recommendedCpu", "recommendedMemoryInGB", "maxUtilizedCpu", "maxUtilizedMemoryInGB",
            "totalQueries", "successQueries", "successRate", "latencyPercentile50InMs", "latencyPercentile90InMs",
            "latencyPercentile99InMs", "measuredQueriesPerSecond", "createdTime"} <= details
    assert "Running" in output and "\nSucceeded\n" in output  # wait_for_completion(True): state, dots, final state


def test_the_package_is_a_dockerfile_and_its_context(flow: tuple[Path, str]) -> None:
    folder, output = flow
    assert lines(output, "Address:") == ["None"]
    assert (folder / "imagefiles" / "Dockerfile").is_file()
    assert (folder / "imagefiles" / "source" / "score.py").read_text().count("sklearn.externals") == 1
