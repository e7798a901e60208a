"""The Docker engine works: a container from the base image runs and its output is read.

Also checks the skip-or-fail decision of ``tests/conftest.py`` itself, without an engine.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType

import docker
import pytest


def _load_shared_conftest() -> ModuleType:
    """Load ``tests/conftest.py`` as a module of its own.

    pytest imports every ``conftest.py`` under the one name ``conftest``, so
    ``import conftest`` would get whichever was collected last.
    """
    path = Path(__file__).resolve().parents[1] / "conftest.py"
    spec = importlib.util.spec_from_file_location("mlnb_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


shared = _load_shared_conftest()

# Everything a deployment needs from the image: its Python, venv, pip and TLS roots.
PROBE = """
import ensurepip, pip, ssl, sys, venv
print("python", "%d.%d" % sys.version_info[:2])
print("sum", sum(n * n for n in range(10)))
"""


@pytest.mark.docker
def test_container_from_base_image_runs_and_reports(
    docker_client: docker.DockerClient, base_image: str
) -> None:
    name = f"mlnb-test-engine-{uuid.uuid4().hex[:12]}"
    try:
        container = docker_client.containers.run(
            base_image, ["python3", "-c", PROBE], name=name, detach=True
        )
        status = container.wait(timeout=120)["StatusCode"]
        output = container.logs().decode()
    finally:
        try:
            docker_client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass

    assert status == 0, output
    lines = dict(line.split(" ", 1) for line in output.splitlines())
    major, minor = (int(part) for part in lines["python"].split("."))
    assert (major, minor) >= (3, 10), output
    assert lines["sum"] == "285"


@pytest.fixture
def unreachable_environ(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``DOCKER_HOST`` is a socket nothing listens on."""
    return {"DOCKER_HOST": f"unix://{tmp_path / 'no-engine.sock'}"}


def test_unreachable_engine_gives_a_reason(unreachable_environ: dict[str, str]) -> None:
    client, reason = shared.connect_docker(unreachable_environ)
    assert client is None
    assert reason


@pytest.mark.parametrize("required", [None, "", "0"])
def test_unreachable_engine_skips_by_default(
    unreachable_environ: dict[str, str], required: str | None
) -> None:
    if required is not None:
        unreachable_environ[shared.REQUIRE_DOCKER] = required
    _, reason = shared.connect_docker(unreachable_environ)
    assert shared.unavailable_outcome(unreachable_environ) == "skip"
    with pytest.raises(pytest.skip.Exception, match="no Docker engine reachable"):
        shared.docker_unavailable(f"no Docker engine reachable: {reason}", unreachable_environ)


def test_unreachable_engine_fails_when_required(unreachable_environ: dict[str, str]) -> None:
    unreachable_environ[shared.REQUIRE_DOCKER] = "1"
    _, reason = shared.connect_docker(unreachable_environ)
    assert shared.unavailable_outcome(unreachable_environ) == "fail"
    with pytest.raises(pytest.fail.Exception, match="MLNB_REQUIRE_DOCKER=1"):
        shared.docker_unavailable(f"no Docker engine reachable: {reason}", unreachable_environ)
