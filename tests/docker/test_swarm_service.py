"""The Swarm backend against the real engine: replicas, rolling updates, rollback, scaling,
rediscovery from a new process, keys as a Swarm secret.

There is no routing mesh on this machine (no IPVS, ENVIRONMENT.md), so the service runs
with ``endpoint_mode="dnsrr"`` on an attachable overlay network, and requests come from a
client container on that network (``tests/docker/swarm_client.py``), addressed to
``tasks.<service>``. The entry script answers with its container's hostname, so a
response names the replica that served it.

The module initialises a single-node swarm when the engine is in none, and leaves it at
the end (``docker swarm leave --force``); an engine already in a swarm is left as it was.
The tests share one service and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.config import Environment
from mlnb.deploy.backends import get_backend
from mlnb.deploy.backends._swarm import KEYS_FILE, SwarmBackend
from mlnb.errors import DeploymentFailed, NotInSwarm

pytestmark = pytest.mark.docker

CLIENT = (Path(__file__).with_name("swarm_client.py")).read_text()
SCORE = """\
import os
import socket

VERSION = {version!r}


def init():
    if os.environ.get("FAIL_INIT") == "1":
        raise RuntimeError("init() fails on purpose")


def run(raw_data):
    return {{"replica": socket.gethostname(), "version": VERSION}}
"""


class Swarm:
    """The swarm the tests run on, and mlnb's refusal to make one unasked (None: it was there)."""

    def __init__(self, client: docker.DockerClient, client_image: str) -> None:
        self.client = client
        self.client_image = client_image
        self.refusal: NotInSwarm | None = None
        self.network = f"mlnb-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient, base_image: str, single_node_swarm: NotInSwarm | None) -> Iterator[Swarm]:
    state = Swarm(docker_client, base_image)
    state.refusal = single_node_swarm
    try:
        yield state
    finally:
        for network in docker_client.networks.list(names=[state.network]):
            network.remove()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Model, Path]:
    folder = tmp_path_factory.mktemp("swarm")
    workspace = Workspace.create(folder / "ws")
    (folder / "weights.txt").write_text("no weights")
    model = Model.register(workspace, folder / "weights.txt", "swarm-model")
    source = folder / "src"
    source.mkdir()
    (source / "score.py").write_text(SCORE.format(version="v1"))
    return workspace, model, source


def _inference(source: Path) -> InferenceConfig:
    return InferenceConfig("score.py", source_directory=source, environment=Environment("empty"))


def _config(swarm: Swarm, **options: Any) -> Any:
    defaults: dict[str, Any] = {"backend": "swarm", "endpoint_mode": "dnsrr", "network": swarm.network, "auth_enabled": False}
    return LocalWebservice.deploy_configuration(**{**defaults, **options})


@pytest.fixture(scope="module")
def service(swarm: Swarm, project: tuple[Workspace, Model, Path], base_image: str) -> Iterator[Webservice]:
    workspace, model, source = project
    deployed = Model.deploy(
        workspace, "swarmsvc", [model], _inference(source), _config(swarm, replicas=2, cpu_cores=0.5, memory_gb=0.5)
    )
    try:
        deployed.wait_for_deployment(timeout_sec=900)
        yield deployed
    finally:
        image = deployed._record.runtime["image"]
        deployed.delete()
        _remove_images(swarm, image)


def _remove_images(swarm: Swarm, image: str) -> None:
    for found in swarm.client.images.list(name=image.split(":")[0]):
        for tag in found.tags:
            swarm.client.images.remove(tag, force=True)


def _backend() -> SwarmBackend:
    backend = get_backend("swarm")
    assert isinstance(backend, SwarmBackend)
    return backend


def _name(service: Webservice) -> str:
    return str(service._record.runtime["service"])


def _load(swarm: Swarm, service: Webservice, *, seconds: float, requests: int, concurrency: int = 2, detach: bool = False) -> Any:
    """Run the client on the service's network; with ``detach``, return the container."""
    command = ["python3", "-c", CLIENT, f"tasks.{_name(service)}", "5001", str(seconds), str(requests), str(concurrency)]
    container = swarm.client.containers.run(
        swarm.client_image,
        command,
        network=swarm.network,
        detach=True,
        labels={"mlnb.test": "swarm-client"},
    )
    if detach:
        return container
    return _results(container)


def _results(container: Any) -> list[dict[str, Any]]:
    try:
        container.wait(timeout=600)
        output = container.logs(stdout=True, stderr=False).decode()
        assert output.strip(), container.logs().decode()
        return list(json.loads(output)["results"])
    finally:
        container.remove(force=True)


def _converge(service: Webservice, replicas: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while _backend().replica_states(service._record).count("running") != replicas:
        assert time.monotonic() < deadline, f"not {replicas} running replicas after {timeout} s"
        time.sleep(0.5)


def test_without_a_swarm_the_error_says_how_to_make_one(swarm: Swarm) -> None:
    if swarm.refusal is None:
        pytest.skip("the engine was already in a swarm when the tests started")
    assert str(swarm.refusal) == (
        "this engine is not in a swarm: run `docker swarm init --advertise-addr 127.0.0.1` or pass init_swarm=True"
    )


def test_replicas_serve_from_the_overlay_network_with_task_limits(swarm: Swarm, service: Webservice) -> None:
    assert service.state == "Healthy" and service.backend == "swarm"
    _converge(service, 2)

    results = _load(swarm, service, seconds=60, requests=60)

    assert [r["status"] for r in results] == [200] * 60
    assert len({r["replica"] for r in results}) == 2
    spec = swarm.client.services.get(_name(service)).attrs["Spec"]
    assert spec["TaskTemplate"]["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 512 * 1024**2}
    assert spec["UpdateConfig"]["Order"] == "start-first" and spec["UpdateConfig"]["FailureAction"] == "rollback"
    assert "/ready" in " ".join(spec["TaskTemplate"]["ContainerSpec"]["Healthcheck"]["Test"])
    assert spec["EndpointSpec"]["Mode"] == "dnsrr"
    # dnsrr publishes nothing on the host: the URI is the one inside the network, and the handle says so
    assert service.scoring_uri == f"http://tasks.{_name(service)}:5001/score"
    assert service.reachable_from.startswith(f"containers on the overlay network {swarm.network!r} only")


def test_logs_come_from_every_task_tagged_with_it(service: Webservice) -> None:
    logs = service.get_logs()

    tagged = {line.split("]")[0] for line in logs.splitlines() if line.startswith(f"[{_name(service)}.")}
    slots = {tag.split(".")[1] for tag in tagged}
    assert {"1", "2"} <= slots, logs[-2000:]
    assert "[mlnb] creating Swarm service" in logs


def _running(service: Webservice) -> set[str]:
    return {t["ID"] for t in _backend().tasks(service._record) if t["Status"]["State"] == "running" and t["DesiredState"] == "running"}


def test_scale_converges_down_and_up_without_restarting_the_tasks_it_keeps(service: Webservice) -> None:
    two = _running(service)
    service.scale(1)
    _converge(service, 1)
    one = _running(service)
    service.scale(3)
    _converge(service, 3)
    three = _running(service)

    assert one < two and one < three
    assert service._record.spec["deploymentConfig"]["replicas"] == 3
    service.scale(2)
    _converge(service, 2)
    assert _running(service) < three


def test_a_new_kernel_rediscovers_the_service(service: Webservice, project: tuple[Workspace, Model, Path]) -> None:
    workspace = project[0]
    code = (
        "import sys; from mlnb import Webservice, Workspace\n"
        "from mlnb.deploy.backends import get_backend\n"
        "service = Webservice(Workspace(sys.argv[1]), 'swarmsvc')\n"
        "print(service.state, get_backend('swarm').replica_states(service._record).count('running'))\n"
    )
    answer = subprocess.run([sys.executable, "-c", code, str(workspace.path)], capture_output=True, text=True, timeout=120, check=True)

    assert answer.stdout.split() == ["Healthy", "2"]


def test_a_rolling_update_under_load_loses_no_request(swarm: Swarm, service: Webservice, project: tuple[Workspace, Model, Path]) -> None:
    source = project[2]
    client = _load(swarm, service, seconds=400, requests=100_000, detach=True)
    try:
        time.sleep(3)
        (source / "score.py").write_text(SCORE.format(version="v2"))
        service.update(inference_config=_inference(source))
        service.wait_for_deployment(timeout_sec=600)
        _converge(service, 2)
        time.sleep(3)
    finally:
        client.exec_run(["touch", "/tmp/stop"])
    results = _results(client)

    statuses = [r["status"] for r in results]
    versions = [r.get("version") for r in results]
    print(f"rolling update: {len(results)} requests, {statuses.count(200)} answered 200, "
          f"{sum(r['retried'] for r in results)} retried once after a refused or reset connection")
    assert statuses == [200] * len(results), [r for r in results if r["status"] != 200][:5]
    assert versions[0] == "v1" and versions[-1] == "v2"
    assert versions.index("v2") > 0 and "v1" not in versions[-10:]


def test_an_update_whose_init_fails_is_rolled_back_and_the_old_version_keeps_serving(
    swarm: Swarm, service: Webservice
) -> None:
    with pytest.raises(DeploymentFailed, match="rolled the service back: the previous version keeps serving"):
        service.update(deployment_config=_config(swarm, replicas=2, environment_variables={"FAIL_INIT": "1"}))
        service.wait_for_deployment(timeout_sec=600)

    assert "init() fails on purpose" in service.get_logs()
    results = _load(swarm, service, seconds=30, requests=20)
    assert {(r["status"], r["version"]) for r in results} == {(200, "v2")}


def test_keys_are_a_swarm_secret_mounted_as_the_keys_file(swarm: Swarm, project: tuple[Workspace, Model, Path]) -> None:
    workspace, model, source = project
    keyed = Model.deploy(workspace, "swarmkeys", [model], _inference(source), _config(swarm, auth_enabled=None))
    name, image = _name(keyed), keyed._record.runtime["image"]
    try:
        assert keyed.auth_enabled
        primary, secondary = keyed.get_keys()
        deadline = time.monotonic() + 600
        while not swarm.client.services.list(filters={"name": name}):
            assert keyed.state != "Failed" and time.monotonic() < deadline, keyed.get_logs()[-2000:]
            time.sleep(0.5)
        inspected = swarm.client.api.inspect_service(name)
        container = inspected["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert container["Command"][-2:] == ["--auth-keys-file", KEYS_FILE]
        (mounted,) = container["Secrets"]
        assert mounted["File"] == {"Name": "mlnb-keys", "UID": "10001", "GID": "10001", "Mode": 0o400}
        assert primary not in json.dumps(inspected) and secondary not in json.dumps(inspected)
        assert swarm.client.secrets.get(mounted["SecretID"]).attrs["Spec"]["Labels"]["mlnb.service"] == "swarmkeys"
    finally:
        keyed.delete()
        _remove_images(swarm, image)
    assert not swarm.client.secrets.list(filters={"name": f"{name}-keys-"})


def test_overwrite_rolls_the_service_over_under_load_and_an_identical_one_changes_nothing(
    swarm: Swarm, service: Webservice, project: tuple[Workspace, Model, Path]
) -> None:
    workspace, model, source = project
    _converge(service, 2)
    swarm_id = swarm.client.services.get(_name(service)).id
    client = _load(swarm, service, seconds=400, requests=100_000, detach=True)
    try:
        time.sleep(3)
        (source / "score.py").write_text(SCORE.format(version="v3"))
        again = Model.deploy(workspace, "swarmsvc", [model], _inference(source), _config(swarm, replicas=2), overwrite=True)
        again.wait_for_deployment(timeout_sec=600)
        _converge(service, 2)
        time.sleep(3)
    except BaseException:
        client.remove(force=True)  # the results are not read: do not leave the client behind
        raise
    client.exec_run(["touch", "/tmp/stop"])
    results = _results(client)

    statuses = [r["status"] for r in results]
    versions = [r.get("version") for r in results]
    print(f"overwrite: {len(results)} requests, {statuses.count(200)} answered 200, "
          f"{sum(r['retried'] for r in results)} retried once after a refused or reset connection")
    assert statuses == [200] * len(results), [r for r in results if r["status"] != 200][:5]
    assert versions[0] == "v2" and versions[-1] == "v3" and "v2" not in versions[-10:]
    assert swarm.client.services.get(_name(service)).id == swarm_id  # updated in place, never removed and created again

    tasks = _running(service)
    Model.deploy(workspace, "swarmsvc", [model], _inference(source), _config(swarm, replicas=2), overwrite=True)
    assert service.state == "Healthy" and _running(service) == tasks
    assert "unchanged (same models, source, configuration, keys and packages)" in service.get_logs()


def test_an_aks_configuration_becomes_a_swarm_deployment_when_the_engine_is_a_manager(swarm: Swarm) -> None:
    from mlnb.compat.azureml._webservice import AksWebservice, plan, swarm_active

    config = AksWebservice.deploy_configuration(num_replicas=2, cpu_cores=0.5, memory_gb=0.5)

    assert swarm_active()
    _, local = plan(None, config)

    assert (local.backend, local.replicas, local.cpu_cores, local.memory_gb, local.auth_enabled) == ("swarm", 2, 0.5, 0.5, True)
