"""The safe switch on the Docker backend, against a real engine: a new version starts in
the port holder's network next to the old one and takes over only when ready; keys reach
the server as a read-only file, never on a command line or in ``docker inspect``."""

from __future__ import annotations

import itertools
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import requests
from rel_traffic import RequestLoop

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.errors import DeploymentFailed

pytestmark = pytest.mark.docker

Project = tuple[Workspace, Model, Path]
ROW = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]
BODY = json.dumps({"data": ROW}).encode()
KEYS = ["-" + "k" * 42, "--" + "s" * 41, "-" + "n" * 42]
SETTING = "value-" + "v" * 20


@pytest.fixture(scope="module")
def switch_project(
    tmp_path_factory: pytest.TempPathFactory,
    project_maker: Callable[[Path, Path, str], Iterator[Project]],
    diabetes_model_file: Path,
    seed_score_script: str,
    base_image: str,
) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("docker-switch")
    yield from project_maker(folder, diabetes_model_file, seed_score_script)


@pytest.fixture(scope="module")
def keyed(switch_project: Project) -> Iterator[Webservice]:
    """One Docker service with auth on (keys that start with '-') and an environment variable."""
    workspace, model, source = switch_project
    supply = itertools.cycle(KEYS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secrets, "token_urlsafe", lambda nbytes=None: next(supply))
        config = LocalWebservice.deploy_configuration(backend="docker", auth_enabled=True, environment_variables={"MY_SETTING": SETTING})
        service = Model.deploy(workspace, "keyed", [model], InferenceConfig("score.py", source_directory=source), config)
        service.wait_for_deployment(timeout_sec=600)
        yield service


def _variant(source: Path, name: str, old: str, new: str) -> Path:
    variant = source.parent / name
    variant.mkdir(exist_ok=True)
    text = (source / "score.py").read_text()
    assert old in text
    (variant / "score.py").write_text(text.replace(old, new))
    return variant


def _headers(service: Webservice, which: int = 1) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.get_keys()[which]}"}


def test_keys_reach_the_server_as_a_read_only_file(keyed: Webservice, docker_client: docker.DockerClient) -> None:
    primary, secondary = keyed.get_keys()
    assert primary.startswith("-") and secondary.startswith("--")
    assert requests.post(keyed.scoring_uri, data=BODY, timeout=10).status_code == 401
    for key in (primary, secondary):
        ok = requests.post(keyed.scoring_uri, data=BODY, headers={"Authorization": f"Bearer {key}"}, timeout=10)
        assert ok.status_code == 200
    runtime = keyed._record.runtime
    for name in (runtime["container"], runtime["holder"]):
        inspected = json.dumps(docker_client.api.inspect_container(name))
        assert primary not in inspected and secondary not in inspected
    container = docker_client.containers.get(runtime["container"])
    processes = container.top(ps_args="-eo pid,args")["Processes"]
    assert len(processes) >= 2 and all(primary not in " ".join(p) and secondary not in " ".join(p) for p in processes)
    mode = container.exec_run(["stat", "-c", "%a %U", "/run/secrets/mlnb-auth-keys"]).output.decode().split()
    assert mode == ["444", "root"]
    # Environment variables go where Docker puts them: `docker inspect` shows them (docs/deploy.md says so).
    assert f"MY_SETTING={SETTING}" in container.attrs["Config"]["Env"]


def test_an_update_whose_init_fails_leaves_the_old_container_serving(keyed: Webservice, switch_project: Project) -> None:
    _, _, source = switch_project
    container = keyed._record.runtime["container"]
    broken = _variant(source, "src-broken", "    model = joblib.load(model_path)", "    raise ValueError('the new model is corrupt')")
    with RequestLoop(keyed.port, BODY, headers=_headers(keyed)) as loop, pytest.raises(DeploymentFailed) as failure:
        keyed.update(inference_config=InferenceConfig("score.py", source_directory=broken))
    message = str(failure.value)
    assert "the new version failed" in message and "the old one is still serving" in message
    assert "ValueError: the new model is corrupt" in message
    assert keyed.state == "Healthy" and keyed._record.runtime["container"] == container
    assert loop.failures == [] and loop.ok > 0


def test_a_successful_update_drops_no_request(keyed: Webservice, switch_project: Project, docker_client: docker.DockerClient) -> None:
    workspace, _, source = switch_project
    zero = _variant(source, "src-zero", "return result.tolist()", "return [0.0 for _ in result]")
    old = keyed._record.runtime
    with RequestLoop(keyed.port, BODY, headers=_headers(keyed)) as loop:
        keyed.update(inference_config=InferenceConfig("score.py", source_directory=zero))
        assert keyed.state == "Healthy"
        answer = requests.post(keyed.scoring_uri, data=BODY, headers=_headers(keyed), timeout=10).json()
    assert answer == [0.0]
    assert loop.failures == [] and loop.ok > 20
    new = keyed._record.runtime
    assert new["holder"] == old["holder"] and new["container"] != old["container"]
    names = {c.name for c in docker_client.containers.list(all=True, filters={"label": f"mlnb.workspace={workspace.path}"})}
    assert old["container"] not in names and {new["container"], new["holder"]} <= names


def test_reload_and_a_key_change_drop_no_request(keyed: Webservice, switch_project: Project) -> None:
    _, _, source = switch_project
    with RequestLoop(keyed.port, BODY, headers=_headers(keyed)) as loop:
        keyed.reload()
        old_primary = keyed.get_keys()[0]
        keyed.regen_key("Primary")
        assert keyed.state == "Healthy"
    assert loop.failures == [] and loop.ok > 20
    assert requests.post(keyed.scoring_uri, data=BODY, headers={"Authorization": f"Bearer {old_primary}"}, timeout=10).status_code == 401
    assert requests.post(keyed.scoring_uri, data=BODY, headers=_headers(keyed, 0), timeout=10).status_code == 200


def test_an_engine_that_goes_away_is_the_state_unknown(keyed: Webservice, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from mlnb.deploy import backends

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    backend = backends.get_backend("docker")
    monkeypatch.setattr(backend, "client", docker.DockerClient(base_url=f"tcp://127.0.0.1:{closed}", version="1.41"))
    service = Webservice(keyed.workspace, keyed.name)
    assert service.state == "Unknown"
    assert service.error is not None and "the Docker engine is unreachable" in service.error
    assert "Unknown" in service._repr_html_() and "keyed" in repr(service)
    assert "unreachable" in service.get_logs().splitlines()[-1]
    assert service._record.state == "Healthy"


def test_a_container_that_exits_before_the_listening_probe_counts_no_worker(docker_client: docker.DockerClient,
                                                                            base_image: str) -> None:
    # The race of a new version whose init() fails: the container was running at reload()
    # and had exited (status 3) when the probe's exec started; the engine then answers 409.
    from mlnb.deploy.backends._docker import _listening_workers

    container = docker_client.containers.run(base_image, ["python3", "-c", "raise SystemExit(3)"],
                                             name=f"mlnb-test-exited-{uuid.uuid4().hex[:12]}", detach=True)
    try:
        assert container.wait(timeout=60)["StatusCode"] == 3
        assert _listening_workers(container) == 0
    finally:
        container.remove(force=True)
