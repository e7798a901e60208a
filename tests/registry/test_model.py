from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlnb import Model, ResourceConfiguration, Workspace
from mlnb.errors import InvalidConfiguration, InvalidModelName, ModelExists, ModelNotFound
from mlnb.registry import BlobStore


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "project")


@pytest.fixture()
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "sklearn_regression_model.pkl"
    path.write_bytes(b"pretend pickle" * 100)
    return path


@pytest.fixture()
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    return folder


def test_register_a_file(ws: Workspace, model_file: Path) -> None:
    model = Model.register(
        workspace=ws,
        model_path=model_file,
        model_name="sklearn_mnist",
        tags={"area": "diabetes", "type": "regression"},
        properties={"r2": 0.5},
        description="Ridge on diabetes",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version="1.5",
        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
    )
    assert (model.name, model.version, model.id) == ("sklearn_mnist", 1, "sklearn_mnist:1")
    assert model.tags == {"area": "diabetes", "type": "regression"}
    assert model.properties == {"r2": "0.5"}
    assert model.model_framework == "ScikitLearn"
    assert model.resource_configuration == ResourceConfiguration(cpu=1, memory_in_gb=0.5)
    assert model.size == model_file.stat().st_size
    again = Model(ws, "sklearn_mnist")
    assert again == model and again.description == "Ridge on diabetes"
    assert again.resource_configuration == model.resource_configuration


def test_versions_increase_and_are_never_reused(ws: Workspace, model_file: Path) -> None:
    versions = [Model.register(ws, model_file, "m").version for _ in range(3)]
    assert versions == [1, 2, 3]
    Model(ws, "m", version=3).delete()
    assert Model.register(ws, model_file, "m").version == 4
    assert Model(ws, "m").version == 4
    assert Model(ws, id="m:2").version == 2


def test_a_folder_keeps_its_structure(ws: Workspace, model_folder: Path, tmp_path: Path) -> None:
    model = Model.register(ws, model_folder, "folder_model")
    downloaded = Path(model.download(tmp_path / "out"))
    assert downloaded == tmp_path / "out" / "outputs"
    assert (downloaded / "model.onnx").read_bytes() == b"onnx"
    assert (downloaded / "sub" / "vocab.txt").read_text() == "a\nb\n"
    path = Path(Model.get_model_path("folder_model", _workspace=ws))
    assert path.name == "outputs" and (path / "sub" / "vocab.txt").is_file()


@pytest.mark.parametrize("name", ["", "-leading", "has space", "a" * 256, "sl/ash", "ü"])
def test_invalid_names_are_refused(ws: Workspace, model_file: Path, name: str) -> None:
    with pytest.raises(InvalidModelName, match="letters, digits"):
        Model.register(ws, model_file, name)


def test_framework_version_needs_a_framework(ws: Workspace, model_file: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="model_framework"):
        Model.register(ws, model_file, "m", model_framework_version="1.0")


def test_unknown_framework_lists_the_known_ones(ws: Workspace, model_file: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="ScikitLearn"):
        Model.register(ws, model_file, "m", model_framework="sklearn-ish")


def test_missing_path_is_a_clear_error(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidConfiguration, match="does not exist"):
        Model.register(ws, tmp_path / "nope.pkl", "m")


def test_not_found_errors_say_what_exists(ws: Workspace, model_file: Path) -> None:
    with pytest.raises(ModelNotFound, match="no model named 'ghost'"):
        Model(ws, "ghost")
    Model.register(ws, model_file, "m")
    with pytest.raises(ModelNotFound, match="registered versions: 1"):
        Model(ws, "m", version=7)


def test_list_filters(ws: Workspace, model_file: Path) -> None:
    Model.register(ws, model_file, "a", tags={"area": "diabetes"})
    Model.register(ws, model_file, "a", tags={"area": "mnist"}, properties={"k": "v"})
    Model.register(ws, model_file, "b")
    assert [m.id for m in Model.list(ws)] == ["a:2", "a:1", "b:1"]
    assert [m.id for m in Model.list(ws, latest=True)] == ["a:2", "b:1"]
    assert [m.id for m in Model.list(ws, name="b")] == ["b:1"]
    assert [m.id for m in Model.list(ws, tags=["area"])] == ["a:2", "a:1"]
    assert [m.id for m in Model.list(ws, tags=[["area", "diabetes"]])] == ["a:1"]
    assert [m.id for m in Model.list(ws, tags={"area": "mnist"})] == ["a:2"]
    assert [m.id for m in Model.list(ws, properties=["k"])] == ["a:2"]
    frame = Model.list(ws).to_dataframe()
    assert list(frame["name"]) == ["a", "a", "b"] and list(frame["version"]) == [2, 1, 1]


def test_tags_change_and_properties_only_grow(ws: Workspace, model_file: Path) -> None:
    model = Model.register(ws, model_file, "m", tags={"a": "1"}, properties={"p": "1"})
    model.add_tags({"b": "2"})
    model.remove_tags(["a"])
    model.add_properties({"q": "2", "p": "1"})
    with pytest.raises(InvalidConfiguration, match="cannot be changed"):
        model.add_properties({"p": "other"})
    model.update(description="new")
    fresh = Model(ws, "m")
    assert fresh.tags == {"b": "2"}
    assert fresh.properties == {"p": "1", "q": "2"}
    assert fresh.description == "new"


def test_download_refuses_to_overwrite(ws: Workspace, model_file: Path, tmp_path: Path) -> None:
    model = Model.register(ws, model_file, "m")
    target = tmp_path / "dl"
    path = Path(model.download(target))
    assert path.read_bytes() == model_file.read_bytes()
    with pytest.raises(ModelExists, match="exist_ok=True"):
        model.download(target)
    path.write_bytes(b"edited")  # downloads are the user's own, writable copies
    model.download(target, exist_ok=True)
    assert path.read_bytes() == model_file.read_bytes()


def test_delete_removes_unshared_blobs_only(ws: Workspace, model_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.pkl"
    other.write_bytes(b"different")
    first = Model.register(ws, model_file, "m")
    second = Model.register(ws, model_file, "m")
    third = Model.register(ws, other, "m")
    shared_digest = first.files()[0][1]
    own_digest = third.files()[0][1]
    third.delete()
    assert not ws.blobs.path(own_digest).exists()
    first.delete()
    assert ws.blobs.path(shared_digest).exists()
    assert Path(Model.get_model_path("m", _workspace=ws)).read_bytes() == model_file.read_bytes()
    second.delete()
    assert not ws.blobs.path(shared_digest).exists()
    with pytest.raises(ModelNotFound):
        second.delete()


def test_interrupted_register_leaves_nothing(
    ws: Workspace, model_folder: Path, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ingest = BlobStore.ingest
    calls = 0

    def ingest_then_interrupt(self: BlobStore, source: Path) -> tuple[str, int, Path]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real_ingest(self, source)

    monkeypatch.setattr(BlobStore, "ingest", ingest_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        Model.register(ws, model_folder, "m")
    monkeypatch.undo()
    assert Model.list(ws) == []
    assert list((ws.path / "blobs" / "tmp").iterdir()) == []
    assert Model.register(ws, model_file, "m").version == 1


def test_killed_register_leaves_a_consistent_registry(ws: Workspace, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    for i in range(40):
        (big / f"part{i}.bin").write_bytes(os.urandom(1 << 20))
    code = (
        "import sys; from mlnb import Model, Workspace;"
        "Model.register(Workspace(sys.argv[1]), sys.argv[2], 'big')"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(ws.path), str(big)])
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    models = Model.list(ws)
    # Whenever the kill landed, the version is either complete or absent.
    for model in models:
        assert len(model.files()) == 40
        for _, digest, size in model.files():
            assert ws.blobs.path(digest).stat().st_size == size
    assert Model.register(ws, big, "big").version == len(models) + 1


def _register_many(workspace_path: str, model_path: str, count: int) -> list[int]:
    workspace = Workspace(workspace_path)
    return [Model.register(workspace, model_path, "shared").version for _ in range(count)]


def test_concurrent_registrations_get_distinct_versions(ws: Workspace, model_file: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(8) as pool:
        results = pool.starmap(_register_many, [(str(ws.path), str(model_file), 10)] * 8)
    versions = sorted(v for chunk in results for v in chunk)
    assert versions == list(range(1, 81))
    assert sorted(m.version for m in Model.list(ws, name="shared")) == list(range(1, 81))
    with sqlite3.connect(ws.path / "registry.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_get_model_path_inside_a_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    version_dir = tmp_path / "azureml-models" / "sklearn_mnist" / "1"
    version_dir.mkdir(parents=True)
    (version_dir / "model.pkl").write_bytes(b"x")
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(version_dir))
    assert Model.get_model_path("sklearn_mnist") == str(version_dir / "model.pkl")


def test_models_render_as_html(ws: Workspace, model_file: Path) -> None:
    model = Model.register(ws, model_file, "m", tags={"area": "<b>"})
    assert "m:1" in model._repr_html_() and "&lt;b&gt;" in model._repr_html_()
    assert "<table" in Model.list(ws)._repr_html_()
    assert "no models" in Model.list(ws, name="none")._repr_html_()
