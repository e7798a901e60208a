"""User mistakes in registry calls are one-line MlnbErrors that say what to do, not tracebacks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlnb import Model, Workspace
from mlnb.errors import InvalidConfiguration, MlnbError, ModelExists

_WORKSPACE_LINE = "workspace must be a Workspace (Workspace.from_config() or Workspace.create(path)), not the str "


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "project")


@pytest.fixture()
def model(ws: Workspace, tmp_path: Path) -> Model:
    (tmp_path / "model.pkl").write_bytes(b"weights")
    return Model.register(ws, tmp_path / "model.pkl", "m")


# The calls an Azure ML notebook makes with the workspace first, given a path string instead.
AZURE_CALLS: dict[str, Callable[[Any, Path], object]] = {
    "Model.register(path, ...)": lambda ws, f: Model.register("some/path", f, "m"),  # type: ignore[arg-type]  # the mistake under test
    "Model.register(workspace=path, ...)": lambda ws, f: Model.register(
        workspace="some/path", model_path=f, model_name="m"  # type: ignore[arg-type]  # the mistake under test
    ),
    "Model(path, name)": lambda ws, f: Model("some/path", "m"),  # type: ignore[arg-type]  # the mistake under test
    "Model(path, id=...)": lambda ws, f: Model("some/path", id="m:1"),  # type: ignore[arg-type]  # the mistake under test
    "Model.list(path)": lambda ws, f: Model.list("some/path"),  # type: ignore[arg-type]  # the mistake under test
    "Model.get_model_path(name, _workspace=path)": lambda ws, f: Model.get_model_path(
        "m", _workspace="some/path"  # type: ignore[arg-type]  # the mistake under test
    ),
}


@pytest.mark.parametrize("call", list(AZURE_CALLS), ids=str)
def test_a_path_string_as_the_workspace_is_one_line(
    call: str, model: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZUREML_MODEL_DIR", raising=False)
    monkeypatch.delenv("MLNB_MODEL_DIR", raising=False)
    with pytest.raises(InvalidConfiguration) as error:
        AZURE_CALLS[call](model.workspace, tmp_path / "model.pkl")
    assert str(error.value) == _WORKSPACE_LINE + "'some/path'"


def test_other_types_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfiguration, match=r"not the PosixPath PosixPath\('some'\)"):
        Model(Path("some"), "m")  # type: ignore[arg-type]  # the mistake under test
    with pytest.raises(InvalidConfiguration, match="not the NoneType None"):
        Model.list(None)  # type: ignore[arg-type]  # the mistake under test


def test_download_into_a_file_is_one_line(model: Model, tmp_path: Path) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("mine")
    for exist_ok in (False, True):
        with pytest.raises(InvalidConfiguration, match=r"is a file, not a folder; pass the folder to download into"):
            model.download(a_file, exist_ok=exist_ok)
    with pytest.raises(InvalidConfiguration, match=r"a part of that path is a file"):
        model.download(a_file / "sub")
    assert a_file.read_text() == "mine"


def test_download_onto_the_existing_file_says_exist_ok(model: Model, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "model.pkl").write_text("mine")
    with pytest.raises(ModelExists, match="pass exist_ok=True to replace it"):
        model.download(target)
    assert (target / "model.pkl").read_text() == "mine"
    assert Path(model.download(target, exist_ok=True)).read_bytes() == b"weights"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_download_into_a_read_only_folder_is_one_line(model: Model, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    with pytest.raises(InvalidConfiguration, match="permission denied"):
        model.download(folder / "sub")


def test_create_a_workspace_in_a_file_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "afile"
    a_file.write_text("")
    with pytest.raises(InvalidConfiguration, match=r"cannot create a workspace in .*afile.*: it is a file; pass a folder"):
        Workspace.create(a_file)


def test_errors_are_single_lines(model: Model, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    for call in (lambda: model.download(tmp_path / "afile"), lambda: Model("x" * 10_000, "m")):  # type: ignore[arg-type]  # the mistake under test
        with pytest.raises(MlnbError) as error:
            call()
        assert "\n" not in str(error.value) and len(str(error.value)) < 300
