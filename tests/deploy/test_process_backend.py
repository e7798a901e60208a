"""Deployments on the process backend: real servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.errors import DeploymentFailed, ScoringError

PROCESS = LocalWebservice.deploy_configuration(backend="process")


def test_seed_workflow(project: tuple[Workspace, Model, Path], seed_payload: dict) -> None:
    workspace, model, source = project
    inference_config = InferenceConfig(entry_script="score.py", source_directory=source)
    service = Model.deploy(workspace, "myservice", [model], inference_config, PROCESS)
    service.wait_for_deployment(show_output=False, timeout_sec=60)
    assert service.state == "Healthy"

    headers = {"Content-Type": "application/json"}
    response = requests.post(service.scoring_uri, data=json.dumps(seed_payload), headers=headers, timeout=10)
    assert response.status_code == 200
    predictions = response.json()
    assert len(predictions) == 2 and all(isinstance(p, float) for p in predictions)
    assert service.run(json.dumps(seed_payload)) == predictions
    assert service.run(seed_payload) == predictions

    swagger = requests.get(service.swagger_uri, timeout=10).json()
    assert "/score" in swagger["paths"]

    with pytest.raises(ScoringError) as error:
        service.run({"data": "not a matrix"})
    assert error.value.status_code == 400

    (source / "score.py").write_text((source / "score.py").read_text().replace("return result.tolist()", "return [x * 0 for x in result.tolist()]"))
    service.update(inference_config=InferenceConfig(entry_script="score.py", source_directory=source))
    service.wait_for_deployment(timeout_sec=60)
    assert service.run(seed_payload) == [0.0, 0.0]

    pid = Webservice(workspace, "myservice")._record.runtime["pid"]
    service.delete()
    assert service.state == "Deleted"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_reload_picks_up_a_new_entry_script(project: tuple[Workspace, Model, Path], seed_payload: dict) -> None:
    workspace, model, source = project
    service = Model.deploy(workspace, "reloaded", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    first = service.run(seed_payload)
    (source / "score.py").write_text((source / "score.py").read_text().replace("return result.tolist()", "return (result * 2).tolist()"))
    service.reload()
    service.wait_for_deployment(timeout_sec=60)
    assert service.run(seed_payload) == pytest.approx([2 * p for p in first])


def test_failing_init_raises_with_the_traceback(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    (source / "score.py").write_text(
        "def init():\n    raise ValueError('the model file is corrupt')\n\ndef run(data):\n    return data\n"
    )
    service = Model.deploy(workspace, "broken", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    with pytest.raises(DeploymentFailed) as failure:
        service.wait_for_deployment(timeout_sec=60)
    assert "ValueError: the model file is corrupt" in str(failure.value)
    assert "Traceback (most recent call last)" in str(failure.value)
    assert service.state == "Failed"


def test_another_process_finds_the_service(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    service = Model.deploy(workspace, "shared", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    code = (
        "import sys, json; from mlnb import Workspace, Webservice;"
        "s = Webservice(Workspace(sys.argv[1]), 'shared');"
        "print(json.dumps([s.state, s.scoring_uri, s.run({'data': [[1,2,3,4,5,6,7,8,9,10]]})]))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(workspace.path)], capture_output=True, text=True, check=True)
    state, uri, prediction = json.loads(result.stdout)
    assert state == "Healthy" and uri == service.scoring_uri and len(prediction) == 1


def test_a_killed_server_is_failed_and_its_workers_are_removed(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", workers=2)
    service = Model.deploy(workspace, "killed", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    leader = psutil.Process(service._record.runtime["pid"])
    workers = leader.children(recursive=True)
    assert workers, "the server runs its workers as child processes"
    leader.kill()
    leader.wait(10)
    assert service.state == "Failed"
    assert "no longer running" in service.error or "killed" in service.error
    service.delete()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == []


def test_keys_are_required_when_auth_is_enabled(project: tuple[Workspace, Model, Path], seed_payload: dict) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", auth_enabled=True)
    service = Model.deploy(workspace, "secured", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    assert requests.post(service.scoring_uri, json=seed_payload, timeout=10).status_code == 401
    primary, _ = service.get_keys()
    ok = requests.post(service.scoring_uri, json=seed_payload, headers={"Authorization": f"Bearer {primary}"}, timeout=10)
    assert ok.status_code == 200
    assert len(service.run(seed_payload)) == 2
    service.regen_key("Primary")
    service.wait_for_deployment(timeout_sec=60)
    old = requests.post(service.scoring_uri, json=seed_payload, headers={"Authorization": f"Bearer {primary}"}, timeout=10)
    assert old.status_code == 401
    assert len(service.run(seed_payload)) == 2


def test_no_code_sklearn(project: tuple[Workspace, Model, Path], seed_payload: dict) -> None:
    workspace, model, _ = project
    service = Model.deploy(workspace, "nocode", [model], deployment_config=PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    assert len(service.run(seed_payload)) == 2
    swagger = requests.get(service.swagger_uri, timeout=10).json()
    assert "/score" in swagger["paths"]


MODULES_SCRIPT = """\
import sys


def init():
    pass


def run(data):
    return sorted(name for name in sys.modules if name.split(".")[0] == "mlnb")
"""


def test_workers_load_no_engine_module(project: tuple[Workspace, Model, Path], tmp_path: Path) -> None:
    workspace, model, _ = project
    source = tmp_path / "modules-src"
    source.mkdir()
    (source / "modules.py").write_text(MODULES_SCRIPT)
    service = Model.deploy(workspace, "modules", [model], InferenceConfig("modules.py", source_directory=source), PROCESS)
    try:
        service.wait_for_deployment(timeout_sec=60)
        loaded = service.run("{}")
    finally:
        service.delete()
    assert "mlnb.serving" in loaded
    assert [name for name in loaded if not name.startswith("mlnb.serving")] == ["mlnb", "mlnb._version"]


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param('{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}', id="json-string"),
        pytest.param(b'{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}', id="bytes"),
        pytest.param({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}, id="dict"),
        pytest.param("numpy", id="numpy-array"),
        pytest.param("frame", id="dataframe"),
    ],
)
def test_run_accepts_what_azure_run_and_score_accept(project: tuple[Workspace, Model, Path], payload: object) -> None:
    import numpy as np
    import pandas as pd

    workspace, model, source = project
    row = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    if payload == "numpy":
        payload = np.array([row])
    elif payload == "frame":
        payload = pd.DataFrame([row])
    service = Model.deploy(workspace, "runinputs", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    try:
        service.wait_for_deployment(timeout_sec=60)
        answer = service.run(payload)
    finally:
        service.delete()
    assert len(answer) == 1 and isinstance(answer[0], float)


def test_run_of_a_stopped_service_raises_a_scoring_error(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    service = Model.deploy(workspace, "stoppedrun", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    os.killpg(service._record.runtime["pid"], signal.SIGKILL)  # the server and its workers: its own session
    try:
        with pytest.raises(ScoringError) as error:
            service.run('{"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}', timeout=5)
        assert error.value.status_code == 0 and "not answering" in str(error.value)
    finally:
        service.delete()


def test_what_ships_is_the_entry_scripts_closure_minus_the_ignore_files(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    (source / "train.py").write_text("import pandas\nimport matplotlib\n")  # beside the script, never imported by it
    (source / "analysis.ipynb").write_text("{}")
    (source / ".mlnbignore").write_text("*.ipynb\n")
    service = Model.deploy(workspace, "closure", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)

    assert not any(r.startswith(("pandas", "matplotlib")) for r in service.requirements)
    assert any(r.startswith("scikit-learn==") for r in service.requirements)  # from the pickle and the script
    assert "not read, as score.py does not import them: train.py" in service.get_logs()
    staged = {p.name for p in (workspace.path / "services" / "closure" / "g1" / "app").iterdir()}
    assert "analysis.ipynb" not in staged and {"score.py", "train.py"} <= staged
