"""A process service's workers die with their server: nothing answers on the port after
``kill -9`` of the server, and the state says Failed."""

from __future__ import annotations

from pathlib import Path

import psutil
from rel_traffic import answers, wait_for

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace


def test_workers_die_with_a_killed_server(project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    config = LocalWebservice.deploy_configuration(backend="process", workers=2)
    service = Model.deploy(workspace, "orphaned", [model], InferenceConfig("score.py", source_directory=source), config)
    service.wait_for_deployment(timeout_sec=60)
    leader = psutil.Process(service._record.runtime["pid"])
    workers = leader.children(recursive=True)
    assert len(workers) >= 2
    leader.kill()
    # Nobody looks at the service meanwhile: the workers must go by themselves.
    assert wait_for(lambda: not answers(service.port), timeout=5), "the workers still answer on the port"
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert alive == []
    assert service.state == "Failed"
