"""`mlnb deploy --backend swarm --replicas N`, `mlnb service scale`, `mlnb k8s export`.

The Swarm options are checked end to end through the engine with the fake backend
registered under the name ``swarm`` (what the command passes is what Swarm would get; the
Swarm backend itself is tested against the real engine in tests/docker), and the
refusal of an engine in no swarm against the real engine.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml
from kubernetes_validate import validate

from mlnb import Model, Webservice, Workspace
from mlnb.cli import main
from mlnb.deploy.backends import FakeBackend, register_backend, unregister_backend


class SwarmDouble(FakeBackend):
    """The fake backend under the Swarm backend's name."""

    name = "swarm"


@pytest.fixture()
def swarm_double() -> Iterator[FakeBackend]:
    backend = SwarmDouble()
    register_backend("swarm", lambda: backend)
    yield backend
    unregister_backend("swarm")


@pytest.fixture()
def cli_project(swarm_double: FakeBackend, project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, Path]:
    workspace, _, source = project
    monkeypatch.chdir(workspace.path.parent)
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    return workspace, source


def _deploy(source: Path, *options: str) -> int:
    return main(["deploy", "-n", "scaled", "-m", "sklearn_regression_model:1", "--entry-script", "score.py",
                 "--source-dir", str(source), "--no-wait", *options])


def test_deploy_passes_the_swarm_options_and_scale_changes_the_count(
    cli_project: tuple[Workspace, Path], swarm_double: FakeBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, source = cli_project
    assert _deploy(source, "--backend", "swarm", "--replicas", "3", "--endpoint-mode", "dnsrr", "--network", "net1") == 0

    config = swarm_double.services["scaled"].deployment.config
    assert (config.backend, config.replicas, config.endpoint_mode, config.network, config.auth_enabled) == (
        "swarm", 3, "dnsrr", "net1", True)
    assert main(["service", "scale", "scaled", "2"]) == 0
    assert swarm_double.services["scaled"].replicas == 2
    assert Webservice(workspace, "scaled").replicas == (2, 2)
    assert "scaled: asked Swarm for 2 replica(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--backend", "nosuch"], 'invalid value for backend, expected "auto", "docker", "process", "swarm"'),
        (["--backend", "process", "--replicas", "3"], "swarm"),
    ],
    ids=["unknown backend", "replicas without swarm"],
)
def test_mistakes_are_one_line(cli_project: tuple[Workspace, Path], capsys: pytest.CaptureFixture[str], options: list[str],
                               message: str) -> None:
    _, source = cli_project
    assert _deploy(source, *options) == 1
    error = capsys.readouterr().err
    assert error.startswith("mlnb: error: ") and message in error and error.count("\n") == 1


def test_scale_refuses_a_service_with_one_copy(cli_project: tuple[Workspace, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, source = cli_project
    assert _deploy(source, "--backend", "process") == 0

    assert main(["service", "scale", "scaled", "2"]) == 1

    assert "runs on the process backend, one copy; deploy it with backend='swarm' to scale" in capsys.readouterr().err


def test_k8s_export_writes_valid_manifests_from_the_service(
    cli_project: tuple[Workspace, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, source = cli_project
    assert _deploy(source, "--backend", "swarm", "--replicas", "2", "--cpu", "0.5", "--memory", "0.25") == 0
    out = tmp_path / "k8s"

    assert main(["k8s", "export", "scaled", "--out", str(out)]) == 1
    assert "has no image: pass image=..." in capsys.readouterr().err  # the double runs no image
    assert main(["k8s", "export", "scaled", "--out", str(out), "--image", "registry.example.com/scaled:1",
                 "--max-replicas", "4"]) == 0

    assert f"kubectl apply -k {out}" in capsys.readouterr().out
    documents = {path.stem: yaml.safe_load(path.read_text()) for path in out.glob("*.yaml")}
    assert set(documents) == {"deployment", "service", "horizontalpodautoscaler", "poddisruptionbudget", "secret", "kustomization"}
    for kind in ("deployment", "service", "horizontalpodautoscaler", "poddisruptionbudget", "secret"):
        validate(documents[kind], "1.31", strict=True)
    container = documents["deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/scaled:1"
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "750m", "memory": "384Mi"}}
    hpa = documents["horizontalpodautoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 4)
    keys = base64.b64decode(documents["secret"]["data"]["keys"]).decode().split()
    assert keys == list(Webservice(workspace, "scaled").get_keys())


@pytest.mark.docker
def test_an_engine_in_no_swarm_says_to_add_init_swarm(
    project: tuple[Workspace, Model, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = docker.from_env()
    if client.info()["Swarm"]["LocalNodeState"] != "inactive":
        pytest.skip("the engine is in a swarm (another test may have made one)")
    workspace, _, source = project
    monkeypatch.chdir(workspace.path.parent)

    assert _deploy(source, "--backend", "swarm", "--replicas", "2") == 1

    assert capsys.readouterr().err == (
        "mlnb: error: this engine is not in a swarm: run `docker swarm init --advertise-addr 127.0.0.1` or add --init-swarm\n"
    )
    assert client.info()["Swarm"]["LocalNodeState"] == "inactive"
