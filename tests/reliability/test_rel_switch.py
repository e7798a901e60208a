"""The safe switch on the process backend: a new version starts next to the old one, on the
same port, and takes over only when it is ready; a failing one leaves the old one serving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rel_traffic import RequestLoop, server_leaders

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.errors import DeploymentFailed

PROCESS = LocalWebservice.deploy_configuration(backend="process")
ROW = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]
BODY = json.dumps({"data": ROW}).encode()


def _variant(source: Path, name: str, old: str, new: str) -> Path:
    variant = source.parent / name
    variant.mkdir(exist_ok=True)
    text = (source / "score.py").read_text()
    assert old in text
    (variant / "score.py").write_text(text.replace(old, new))
    return variant


@pytest.fixture()
def serving(project: tuple[Workspace, Model, Path]) -> tuple[Workspace, Model, Path, Webservice]:
    workspace, model, source = project
    service = Model.deploy(workspace, "switched", [model], InferenceConfig("score.py", source_directory=source), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    return workspace, model, source, service


def test_an_update_whose_init_fails_leaves_the_old_version_serving(serving: tuple[Workspace, Model, Path, Webservice]) -> None:
    workspace, _, source, service = serving
    before = service.run({"data": ROW})
    pid = service._record.runtime["pid"]
    broken = _variant(source, "src-broken", "    model = joblib.load(model_path)", "    raise ValueError('the new model is corrupt')")
    with RequestLoop(service.port, BODY) as loop, pytest.raises(DeploymentFailed) as failure:
        service.update(inference_config=InferenceConfig("score.py", source_directory=broken))
    message = str(failure.value)
    assert "the new version failed" in message and "the old one is still serving" in message
    assert "ValueError: the new model is corrupt" in message
    assert service.state == "Healthy" and service.error is None
    assert service.run({"data": ROW}) == before
    assert service._record.runtime["pid"] == pid
    assert [p.pid for p in server_leaders(service._record.folder(workspace))] == [pid]
    assert loop.failures == [] and loop.ok > 0


def test_a_successful_update_drops_no_request(serving: tuple[Workspace, Model, Path, Webservice]) -> None:
    workspace, _, source, service = serving
    zero = _variant(source, "src-zero", "return result.tolist()", "return [0.0 for _ in result]")
    with RequestLoop(service.port, BODY) as loop:
        service.update(inference_config=InferenceConfig("score.py", source_directory=zero))
        assert service.state == "Healthy"
        answer = service.run({"data": ROW})
    assert answer == [0.0]
    assert loop.failures == [] and loop.ok > 20
    assert len(server_leaders(service._record.folder(workspace))) == 1


def test_a_successful_reload_drops_no_request(serving: tuple[Workspace, Model, Path, Webservice]) -> None:
    workspace, _, source, service = serving
    first = service.run({"data": ROW})
    (source / "score.py").write_text((source / "score.py").read_text().replace("return result.tolist()", "return (result * 2).tolist()"))
    with RequestLoop(service.port, BODY) as loop:
        service.reload()
        assert service.state == "Healthy"
        answer = service.run({"data": ROW})
    assert answer == pytest.approx([2 * first[0]])
    assert loop.failures == [] and loop.ok > 20
    assert len(server_leaders(service._record.folder(workspace))) == 1


def test_overwrite_onto_a_taken_port_leaves_the_old_service_serving(serving: tuple[Workspace, Model, Path, Webservice]) -> None:
    import socket

    from mlnb.errors import PortInUse

    workspace, model, source, service = serving
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with pytest.raises(PortInUse):
            Model.deploy(workspace, "switched", [model], InferenceConfig("score.py", source_directory=source),
                         LocalWebservice.deploy_configuration(backend="process", port=taken), overwrite=True)
    assert Webservice(workspace, "switched").state == "Healthy"
    assert len(service.run({"data": ROW})) == 1
