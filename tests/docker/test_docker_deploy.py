"""Deployments and packages on the Docker backend, against a real engine.

One workspace serves the whole module, so the wheelhouse and the dependency layers are
built once, and the later tests exercise what users repeat: deploys on a warm cache.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.deploy import choose_port
from mlnb.deploy._index import forget
from mlnb.errors import DeploymentFailed

pytestmark = pytest.mark.docker

Project = tuple[Workspace, Model, Path]


@pytest.fixture(scope="module")
def docker_project(
    tmp_path_factory: pytest.TempPathFactory,
    project_maker: Callable[[Path, Path, str], Iterator[Project]],
    diabetes_model_file: Path,
    seed_score_script: str,
    base_image: str,
) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("docker-project")
    yield from project_maker(folder, diabetes_model_file, seed_score_script)


def _docker(**options: object) -> object:
    return LocalWebservice.deploy_configuration(backend="docker", **options)  # type: ignore[arg-type]


def _variant(source: Path, name: str, old: str, new: str) -> Path:
    """A copy of the source directory with one replacement in score.py."""
    variant = source.parent / name
    variant.mkdir(exist_ok=True)
    (variant / "score.py").write_text((source / "score.py").read_text().replace(old, new))
    return variant


def test_seed_workflow(
    docker_project: Project, docker_client: docker.DockerClient, seed_payload: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, model, source = docker_project
    inference_config = InferenceConfig(entry_script="score.py", source_directory=source)
    service = Model.deploy(workspace, "myservice", [model], inference_config, _docker(cpu_cores=1, memory_gb=1))
    service.wait_for_deployment(show_output=True, timeout_sec=600)
    shown = capsys.readouterr().out
    assert "Step 1/" in shown and "scikit-learn==" in shown and "Healthy" in shown

    container = docker_client.containers.get(service._record.runtime["container"])
    assert container.labels["mlnb.service"] == "myservice"
    assert container.attrs["HostConfig"]["NanoCpus"] == 1_000_000_000
    assert container.attrs["HostConfig"]["Memory"] == 1024 * 1024 * 1024
    # The published port belongs to the port holder, whose network the server container joins.
    holder = docker_client.containers.get(service._record.runtime["holder"])
    assert container.attrs["HostConfig"]["NetworkMode"] == f"container:{holder.id}"
    binding = holder.attrs["HostConfig"]["PortBindings"]["5001/tcp"][0]
    assert binding == {"HostIp": "127.0.0.1", "HostPort": str(service.port)}
    assert holder.labels["mlnb.service"] == "myservice" and holder.labels["mlnb.role"] == "port"

    response = requests.post(service.scoring_uri, data=json.dumps(seed_payload), headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 200 and len(response.json()) == 2
    swagger = requests.get(service.swagger_uri, timeout=10).json()
    assert "/score" in swagger["paths"]

    changed = _variant(source, "src-zero", "return result.tolist()", "return [0.0 for _ in result]")
    service.update(inference_config=InferenceConfig(entry_script="score.py", source_directory=changed))
    service.wait_for_deployment(timeout_sec=300)
    assert service.run(seed_payload) == [0.0, 0.0]

    service.delete()
    assert docker_client.containers.list(all=True, filters={"label": f"mlnb.workspace={workspace.path}", "name": "myservice"}) == []


def test_reload_and_rediscovery_from_another_process(docker_project: Project, seed_payload: dict) -> None:
    workspace, model, source = docker_project
    service = Model.deploy(workspace, "reloaded", [model], InferenceConfig("score.py", source_directory=source), _docker())
    service.wait_for_deployment(timeout_sec=300)
    first = service.run(seed_payload)
    doubled = _variant(source, "src-reload", "return result.tolist()", "return (result * 2).tolist()")
    (source / "score.py").write_text((doubled / "score.py").read_text())
    try:
        service.reload()
        service.wait_for_deployment(timeout_sec=120)
    finally:
        (source / "score.py").write_text((source.parent / "src-zero" / "score.py").read_text().replace(
            "return [0.0 for _ in result]", "return result.tolist()"))
    assert service.run(seed_payload) == pytest.approx([2 * p for p in first])

    code = (
        "import sys, json; from mlnb import Workspace, Webservice;"
        "s = Webservice(Workspace(sys.argv[1]), 'reloaded');"
        "print(json.dumps([s.state, s.backend, s.run({'data': [[1,2,3,4,5,6,7,8,9,10]]})]))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(workspace.path)], capture_output=True, text=True, check=True)
    state, backend, prediction = json.loads(result.stdout)
    assert (state, backend) == ("Healthy", "docker") and prediction == pytest.approx([2 * first[0]])


def test_failing_init_raises_with_the_traceback(docker_project: Project) -> None:
    workspace, model, source = docker_project
    broken = _variant(source, "src-broken", "    model = joblib.load(model_path)", "    raise RuntimeError('cannot load ' + model_path)")
    service = Model.deploy(workspace, "broken", [model], InferenceConfig("score.py", source_directory=broken), _docker())
    with pytest.raises(DeploymentFailed) as failure:
        service.wait_for_deployment(timeout_sec=300)
    assert "RuntimeError: cannot load /var/azureml-app/azureml-models/sklearn_regression_model/1/sklearn_regression_model.pkl" in str(failure.value)
    assert "exited with status" in str(failure.value)
    assert service.state == "Failed"


def test_a_container_killed_for_memory_says_so(docker_project: Project) -> None:
    workspace, model, source = docker_project
    load = "    model = joblib.load(model_path)"
    hungry = _variant(source, "src-hungry", load, load + "\n    global ballast\n    ballast = np.ones(400 * 2**20 // 8)")
    service = Model.deploy(workspace, "hungry", [model], InferenceConfig("score.py", source_directory=hungry), _docker(memory_gb=0.25))
    with pytest.raises(DeploymentFailed, match=r"exceeded memory_gb=0\.25"):
        service.wait_for_deployment(timeout_sec=300)


def test_a_missing_base_image_is_a_clear_error(docker_project: Project) -> None:
    workspace, model, source = docker_project
    config = _docker(base_image=f"mlnb-missing-{uuid.uuid4().hex[:8]}:latest")
    service = Model.deploy(workspace, "nobase", [model], InferenceConfig("score.py", source_directory=source), config)
    with pytest.raises(DeploymentFailed, match="is not present and cannot be pulled.*MLNB_BASE_IMAGE"):
        service.wait_for_deployment(timeout_sec=300)


def test_package_dockerfile_builds_and_runs_without_mlnb(
    docker_project: Project, docker_client: docker.DockerClient, tmp_path: Path, seed_payload: dict
) -> None:
    workspace, model, source = docker_project
    package = Model.package(workspace, [model], InferenceConfig("score.py", source_directory=source), generate_dockerfile=True)
    package.wait_for_creation(show_output=False)
    saved = package.save(tmp_path / "imagefiles")
    assert (saved / "Dockerfile").is_file() and (saved / "wheels").is_dir()
    tag = f"mlnb-test-package:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(path=str(saved), tag=tag, rm=True)
    _run_and_score(docker_client, tag, seed_payload)


def test_package_image(docker_project: Project, docker_client: docker.DockerClient, seed_payload: dict) -> None:
    workspace, model, source = docker_project
    tag = f"mlnb-test-image:{uuid.uuid4().hex[:8]}"
    package = Model.package(workspace, [model], InferenceConfig("score.py", source_directory=source), image_name=tag)
    package.wait_for_creation(show_output=False)
    assert package.location == tag and package.state == "Succeeded"
    _run_and_score(docker_client, tag, seed_payload)


def _run_and_score(client: docker.DockerClient, tag: str, payload: dict) -> None:
    """``docker run -p PORT:5001 IMAGE``, then POST /score; removes the container and image."""
    port = choose_port(None)
    container = client.containers.run(tag, detach=True, ports={"5001/tcp": ("127.0.0.1", port)})
    try:
        import time

        from mlnb.deploy.backends._base import http_ready

        deadline = time.monotonic() + 120
        while not http_ready(port) and time.monotonic() < deadline:
            container.reload()
            assert container.status in ("created", "running"), container.logs().decode()
            time.sleep(0.3)
        response = requests.post(f"http://127.0.0.1:{port}/score", json=payload, timeout=10)
        assert response.status_code == 200, container.logs().decode()
        assert len(response.json()) == 2
    finally:
        container.remove(force=True)
        client.images.remove(tag, force=True)


def _interrupt_when(reached: Callable[[], bool], timeout_s: float = 300) -> threading.Thread:
    """Send this process SIGINT (Ctrl-C) once ``reached()`` is true: a deploy stopped at a known phase."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while not reached() and time.monotonic() < deadline:
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


@pytest.mark.parametrize("phase", ["build", "init"])
def test_interrupting_a_docker_deploy_leaves_no_container(docker_project: Project, docker_client: docker.DockerClient,
                                                          phase: str) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    workspace, _, source = docker_project
    name = f"slow-{phase}"
    # A distinct source each time, so the image is really built rather than taken from the cache.
    slow = _variant(source, f"src-{name}", "def init():", f"import time\n\n\ndef init():\n    time.sleep(120)  # {uuid.uuid4()}")
    labels = [f"mlnb.service={name}", f"mlnb.workspace={workspace.path}"]

    def reached() -> bool:
        if phase == "build":
            return "Step 2/" in Webservice(workspace, name).get_logs() if name in [s.name for s in Webservice.list(workspace)] else False
        return bool(docker_client.containers.list(filters={"label": [*labels, "mlnb.role=server"], "status": "running"}))

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlnb")
    shell.magics_manager.registry["MlnbMagics"].workspace = str(workspace.path.parent)
    # Ctrl-C as a terminal or a kernel delivers it: a test run started in the background by a
    # shell without job control (`make test &`) inherits SIGINT ignored, and Python then
    # installs no handler of its own.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    watcher = _interrupt_when(reached)
    try:
        with pytest.raises(KeyboardInterrupt):
            shell.run_line_magic("deploy", f"{name} --backend docker --model sklearn_regression_model --entry-script {slow / 'score.py'}")
    finally:
        watcher.join()
        signal.signal(signal.SIGINT, previous)
        shell.run_line_magic("unload_ext", "mlnb")
    assert name not in [s.name for s in Webservice.list(workspace)]
    assert docker_client.containers.list(all=True, filters={"label": labels}) == []


@pytest.mark.parametrize("role", ["server", "port"])
def test_a_container_removed_by_hand_is_reported(docker_project: Project, docker_client: docker.DockerClient, role: str) -> None:
    workspace, model, source = docker_project
    name = f"byhand-{role}"
    service = Model.deploy(workspace, name, [model], InferenceConfig("score.py", source_directory=source), _docker())
    service.wait_for_deployment(timeout_sec=600)
    filters = {"label": [f"mlnb.service={name}", f"mlnb.workspace={workspace.path}", f"mlnb.role={role}"]}
    (container,) = docker_client.containers.list(filters=filters)
    container.remove(force=True)
    assert service.state == "Failed"
    assert "is gone" in (service.error or ""), service.error
    assert "Failed" in service._repr_html_()
    service.delete()
    assert name not in [s.name for s in Webservice.list(workspace)]
    left = docker_client.containers.list(all=True, filters={"label": [f"mlnb.service={name}", f"mlnb.workspace={workspace.path}"]})
    assert left == []


def test_azure_layout_in_a_container(docker_project: Project, seed_payload: dict) -> None:
    """The seed's script, whose init() also opens ``./source_directory/...`` from the app root,
    as Azure's samples do (same imports, so the dependency layers are the module's cached ones)."""
    workspace, model, source = docker_project
    folder = source.parent / "source_directory"
    folder.mkdir()
    (folder / "labels.json").write_text('["a", "b"]')
    seed = (source / "score.py").read_text()
    assert "def init():\n" in seed
    (folder / "score.py").write_text(seed.replace(
        "def init():\n", "def init():\n    assert json.load(open('./source_directory/labels.json')) == ['a', 'b']\n"))
    service = Model.deploy(workspace, "azurelayout", [model], InferenceConfig("score.py", source_directory=folder), _docker())
    service.wait_for_deployment(timeout_sec=600)
    assert len(service.run(seed_payload)) == 2
    service.delete()


def test_a_docker_deploy_cell_shows_one_progress_line_that_ends_healthy(
    docker_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    workspace, _, source = docker_project
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "mlnb")
    magics = shell.magics_manager.registry["MlnbMagics"]
    magics.workspace, magics.progress = str(workspace.path.parent), "line"  # "line" is what a Jupyter kernel gets
    capsys.readouterr()
    try:
        with capture_output(display=True) as captured:  # the cached image of test_seed_workflow: no pip, no build
            service = shell.run_line_magic(
                "deploy", f"progressdocker --backend docker --model sklearn_regression_model --entry-script {source / 'score.py'}"
            )
    finally:
        shell.run_line_magic("unload_ext", "mlnb")
    try:
        assert service.state == "Healthy"
        texts = [output.data["text/plain"] for output in captured.outputs]
        assert [output.update for output in captured.outputs].count(False) == 1, texts  # one element, redrawn in place
        assert all("\n" not in text for text in texts)
        assert texts[0].startswith("progressdocker: [build] → start → init → Healthy")
        assert texts[-1].startswith("progressdocker: Healthy after ") and texts[-1].endswith(service.scoring_uri)
        final = captured.outputs[-1].data["text/html"]
        assert "<details><summary>full log (" in final and "starting container" in final
        assert capsys.readouterr().out == ""  # not one line of the build log printed
        forget(workspace.path)  # found again from its containers' labels alone
        assert ("progressdocker", workspace.path) in {(s.name, s.workspace.path) for s in Webservice.list_everywhere()}
    finally:
        service.delete()
