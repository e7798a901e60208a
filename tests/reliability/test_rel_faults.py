"""Faults from outside: Ctrl-C in the middle of a switch, a worker killed with SIGKILL, a
container removed by hand (tests/docker/test_docker_deploy.py). The old version keeps
serving, nothing is left running that mlnb no longer knows about, and the state says what happened."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import requests
from rel_traffic import RequestLoop, server_leaders, wait_for

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace

PROCESS = LocalWebservice.deploy_configuration(backend="process")
BODY = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}).encode()


def _slow_variant(source: Path) -> Path:
    """The same script with an ``init()`` that takes a minute: a switch to it is under way for long."""
    variant = source.parent / "src-slow"
    variant.mkdir(exist_ok=True)
    text = (source / "score.py").read_text()
    assert "def init():" in text
    (variant / "score.py").write_text(text.replace("def init():", "import time\n\n\ndef init():\n    time.sleep(60)"))
    return variant


UPDATER = """
import sys
from mlnb import InferenceConfig, Webservice, Workspace
service = Webservice(Workspace(sys.argv[1]), "interrupted")
try:
    service.update(inference_config=InferenceConfig("score.py", source_directory=sys.argv[2]))
except KeyboardInterrupt:
    print("KeyboardInterrupt", flush=True)
    sys.exit(130)
print("the update was not interrupted", flush=True)
"""


def test_ctrl_c_during_a_switch_leaves_the_old_version_serving(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    service = Model.deploy(workspace, "interrupted", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    folder = workspace.path / "services" / "interrupted"
    old_server = server_leaders(folder)
    assert len(old_server) == 1
    with RequestLoop(service.port, BODY) as loop:
        # Ctrl-C in the user's own Python process, as in a script or a terminal.
        updater = subprocess.Popen([sys.executable, "-c", UPDATER, str(workspace.path), str(_slow_variant(source))],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert wait_for(lambda: len(server_leaders(folder)) == 2, timeout=120), "the new version never started"
        updater.send_signal(signal.SIGINT)
        output, _ = updater.communicate(timeout=120)
    assert updater.returncode == 130, output
    assert loop.failures == [] and loop.ok > 0
    # The half-started version is gone; the old server is the one that answers, and the service is free again.
    assert wait_for(lambda: [p.pid for p in server_leaders(folder)] == [old_server[0].pid], timeout=10), server_leaders(folder)
    assert service.state == "Healthy"
    assert requests.post(service.scoring_uri, data=BODY, headers={"Content-Type": "application/json"}, timeout=30).status_code == 200
    service.reload()  # no lock or half-made generation is left behind
    assert service.state == "Healthy"


def test_a_worker_killed_with_sigkill_is_replaced(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", workers=2)
    service = Model.deploy(workspace, "workerkill", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    (leader,) = server_leaders(workspace.path / "services" / "workerkill")
    victim = leader.children(recursive=True)[0]
    victim.kill()
    psutil.wait_procs([victim], timeout=10)

    def two_fresh_workers() -> bool:
        workers = leader.children(recursive=True)
        return len(workers) == 2 and victim.pid not in {worker.pid for worker in workers}

    assert wait_for(two_fresh_workers, timeout=60)
    assert wait_for(lambda: service.state == "Healthy", timeout=60)
    for _ in range(4):  # both workers answer
        response = requests.post(service.scoring_uri, data=BODY, headers={"Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 200

