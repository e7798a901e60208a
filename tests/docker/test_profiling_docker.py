"""Profiling services on the Docker backend, against a real engine.

One workspace serves the module and both entry scripts import the same packages as the seed's
score.py, so the image's dependency layers are built once, by whichever Docker module comes first. The checks mirror ``tests/test_profiling.py``:
a known 300 MiB allocation and a known 40 ms CPU burn per request.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from profiling_workloads import ALLOCATED_GB, BURN_MS, BURN_SCRIPT, MEMORY_SCRIPT

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.deploy.backends._sampling import CgroupSampler, DockerStatsSampler
from mlnb.profiling import DEFAULT_MEMORY_HEADROOM

pytestmark = pytest.mark.docker

# With the model's scikit-learn and joblib, the seed script's requirements exactly: the images
# here reuse the dependency layer the other Docker modules built (a pip install less, ~45 s).
SHARED_IMPORTS = "import inference_schema  # noqa: F401\n"
REQUEST = json.dumps({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
Project = tuple[Workspace, Model, Path]


@pytest.fixture(scope="module")
def profiling_project(
    tmp_path_factory: pytest.TempPathFactory, diabetes_model_file: Path, base_image: str
) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("docker-profiling")
    workspace = Workspace.create(folder)
    model = Model.register(workspace, diabetes_model_file, "sklearn_regression_model")
    source = folder / "src"
    source.mkdir()
    (source / "ballast.py").write_text(SHARED_IMPORTS + MEMORY_SCRIPT)
    (source / "burn.py").write_text(SHARED_IMPORTS + BURN_SCRIPT)
    yield workspace, model, source
    for service in Webservice.list(workspace):
        service.delete()


def _containers(client: docker.DockerClient, workspace: Workspace) -> list[str]:
    return [c.name for c in client.containers.list(all=True, filters={"label": f"mlnb.workspace={workspace.path}"})]


def test_memory_covers_a_known_allocation(profiling_project: Project, docker_client: docker.DockerClient) -> None:
    workspace, model, source = profiling_project
    config = InferenceConfig("ballast.py", source_directory=source)
    profile = Model.profile(
        workspace, "ballast", [model], config, [REQUEST], memory_in_gb=1, duration_s=6, concurrency=[1], backend="docker"
    )
    profile.wait_for_profiling()
    details = profile.get_details()
    assert details["backend"] == "docker" and "cgroup" in details["sampler"]
    peak = profile.levels["peak_memory_gb"].max()
    memory = profile.get_results()["memoryInGB"]
    # The container holds the 300 MiB plus the server (Python, numpy, granian: under 0.25 GiB).
    assert ALLOCATED_GB <= peak <= ALLOCATED_GB + 0.25
    assert peak * (1 + DEFAULT_MEMORY_HEADROOM) <= memory <= peak * (1 + DEFAULT_MEMORY_HEADROOM) + 0.1
    assert _containers(docker_client, workspace) == []


def test_cpu_matches_a_known_burn(profiling_project: Project, docker_client: docker.DockerClient) -> None:
    workspace, model, source = profiling_project
    config = InferenceConfig("burn.py", source_directory=source)
    profile = Model.profile(
        workspace, "burn", [model], config, [REQUEST], duration_s=6, concurrency=[1, 2], backend="docker", p99_target_ms=60
    )
    profile.wait_for_profiling()
    levels = profile.levels.set_index("concurrency")
    # The burn plus the server's own few ms per request; the container counts nothing else.
    for concurrency in (1, 2):
        # 5 % below: the CPU rate is measured over the samples inside the level (one 0.2 s
        # interval short at each end) and spread over every request the level answered.
        assert 0.95 * BURN_MS <= levels.loc[concurrency, "cpu_ms_per_request"] <= BURN_MS + 15
    assert 0 < levels.loc[2, "cpu_cores"] <= 1.1  # one worker process: never more than one core
    assert _containers(docker_client, workspace) == []


def test_sampled_memory_agrees_with_the_engine(profiling_project: Project) -> None:
    workspace, model, source = profiling_project
    service = Model.deploy(
        workspace, "sampled", [model], InferenceConfig("ballast.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="docker"),
    )
    service.wait_for_deployment(timeout_sec=600)
    container = service._record.runtime["container"]
    sampler = service.resource_sampler()
    assert isinstance(sampler, CgroupSampler)
    stream = DockerStatsSampler(docker.from_env().containers.get(container))
    try:
        # What `docker stats` prints, e.g. "312.5MiB / 23.4GiB", against both samplers.
        shown = subprocess.run(
            ["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", container],
            capture_output=True, text=True, check=True,
        ).stdout
        number, unit = re.match(r"([\d.]+)([KMG]i?B)", shown).groups()  # type: ignore[union-attr]
        engine_gb = float(number) * {"KiB": 2**-20, "MiB": 2**-10, "GiB": 1.0}[unit]
        direct = sampler.read()
        streamed = None
        deadline = time.monotonic() + 10
        while streamed is None and time.monotonic() < deadline:
            streamed = stream.read()
            time.sleep(0.2)
        assert direct is not None and streamed is not None
        # The service is idle and its memory steady after init(); 2 % covers the CLI's rounding.
        assert direct.memory_bytes / 2**30 == pytest.approx(engine_gb, rel=0.02)
        assert streamed.memory_bytes / 2**30 == pytest.approx(engine_gb, rel=0.02)
        assert engine_gb >= ALLOCATED_GB
    finally:
        stream.close()
        service.delete()
