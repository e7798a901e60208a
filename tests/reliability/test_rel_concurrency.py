"""Two processes deploying one service name at once: one wins, the other gets one clear
error; never two servers, never a server the record does not name."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rel_traffic import server_leaders

from mlnb import Model, Webservice, Workspace

DEPLOYER = """
import json, os, sys, time
from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
workspace = Workspace(sys.argv[1])
model = Model(workspace, "sklearn_regression_model", version=1)
config = InferenceConfig("score.py", source_directory=sys.argv[2])
overwrite = sys.argv[4] == "1"
print("ready", flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.001)
try:
    service = Model.deploy(workspace, "raced", [model], config, LocalWebservice.deploy_configuration(backend="process"),
                           overwrite=overwrite)
    service.wait_for_deployment(timeout_sec=60)
    print(json.dumps({"outcome": service.state}), flush=True)
except Exception as error:
    print(json.dumps({"outcome": type(error).__name__, "message": str(error)}), flush=True)
"""

ROUNDS = 3


def _race(workspace: Workspace, source: Path, gate: Path, *, overwrite: bool) -> list[dict[str, str]]:
    """Start two deployers, open the gate when both are ready, return what each reported."""
    gate.unlink(missing_ok=True)
    deployers = [
        subprocess.Popen([sys.executable, "-c", DEPLOYER, str(workspace.path), str(source), str(gate), "1" if overwrite else "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    for deployer in deployers:
        assert deployer.stdout is not None
        assert deployer.stdout.readline().strip() == "ready"
    gate.touch()
    outcomes = []
    for deployer in deployers:
        output, _ = deployer.communicate(timeout=120)
        outcomes.append(json.loads(output.strip().splitlines()[-1]))
    return outcomes


def _one_server_named_by_the_record(workspace: Workspace) -> None:
    service = Webservice(workspace, "raced")
    folder = service._record.folder(workspace)
    leaders = server_leaders(folder)
    assert service.state == "Healthy"
    assert [p.pid for p in leaders] == [service._record.runtime["pid"]], "a server runs that the record does not name"
    service.delete()
    deadline = time.monotonic() + 15
    while server_leaders(folder) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server_leaders(folder) == [], "delete() left a server running"


@pytest.mark.parametrize("overwrite", [False, True], ids=["new", "overwrite"])
def test_concurrent_deploys_of_one_name(project: tuple[Workspace, Model, Path], tmp_path: Path, overwrite: bool) -> None:
    workspace, _, source = project
    for _ in range(ROUNDS):
        outcomes = _race(workspace, source, tmp_path / "gate", overwrite=overwrite)
        states = sorted(outcome["outcome"] for outcome in outcomes)
        allowed = {"Healthy", "ServiceBusy"} | ({"ServiceExists"} if not overwrite else set())
        assert set(states) <= allowed, outcomes
        assert "Healthy" in states, outcomes
        if not overwrite:
            assert states.count("Healthy") == 1, outcomes
        for outcome in outcomes:
            if outcome["outcome"] == "ServiceBusy":
                assert "raced" in outcome["message"] and "try again" in outcome["message"]
        _one_server_named_by_the_record(workspace)
