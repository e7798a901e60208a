"""Every service on the machine, across workspaces: the per-user index (process services) and the API, magic and CLI over it."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.cli import main
from mlnb.deploy._index import index_dir, note, noted_workspaces

PROCESS = LocalWebservice.deploy_configuration(backend="process")


def _deploy(folder: Path, model_file: Path, score_script: str, name: str) -> Webservice:
    workspace = Workspace.create(folder)
    model = Model.register(workspace, model_file, "sklearn_regression_model")
    (folder / "score.py").write_text(score_script)
    service = Model.deploy(workspace, name, [model], InferenceConfig("score.py", source_directory=folder), PROCESS)
    service.wait_for_deployment(timeout_sec=60)
    return service


def test_services_of_every_workspace_are_listed_and_dead_entries_pruned(
    tmp_path: Path, diabetes_model_file: Path, seed_score_script: str, state_home: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    first = _deploy(tmp_path / "first-project", diabetes_model_file, seed_score_script, "alpha")
    second = _deploy(tmp_path / "second-project", diabetes_model_file, seed_score_script, "beta")
    try:
        assert index_dir() == state_home / "mlnb" / "workspaces"
        assert stat.S_IMODE(index_dir().stat().st_mode) == 0o700
        assert all(stat.S_IMODE(entry.stat().st_mode) == 0o600 for entry in index_dir().iterdir())

        everywhere = Webservice.list_everywhere()
        ours = {(s.name, str(s.workspace.path.parent)) for s in everywhere} & {
            ("alpha", str(tmp_path / "first-project")), ("beta", str(tmp_path / "second-project"))}
        assert len(ours) == 2  # other sessions' containers on a shared engine may add rows
        frame = everywhere.to_dataframe()
        assert list(frame.columns)[-1] == "workspace" and "<th style" in everywhere._repr_html_()
        assert str(tmp_path / "second-project") in everywhere._repr_html_()

        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "mlnb")
        try:
            from_magic = shell.run_line_magic("services", "--all")
        finally:
            shell.run_line_magic("unload_ext", "mlnb")
        assert {"alpha", "beta"} <= {s.name for s in from_magic}

        capsys.readouterr()
        assert main(["service", "list", "--all"]) == 0  # from a folder with no workspace
        listed = capsys.readouterr().out
        rows = {line.split()[0]: line.split() for line in listed.splitlines()}
        assert rows["alpha"][1] == "Healthy" and rows["alpha"][-1] == str(tmp_path / "first-project")
        assert rows["beta"][-1] == str(tmp_path / "second-project")

        second.delete()  # the workspace holds no service any more: its entry goes at the next listing
        assert "beta" not in {s.name for s in Webservice.list_everywhere()}
        assert len(list(index_dir().iterdir())) == 1
    finally:
        first.delete()
        second.delete()
    assert "alpha" not in {s.name for s in Webservice.list_everywhere()}
    assert list(index_dir().iterdir()) == []


def test_a_workspace_folder_that_is_gone_leaves_the_index(tmp_path: Path, diabetes_model_file: Path) -> None:
    workspace = Workspace.create(tmp_path / "gone")
    note(workspace.path)
    assert workspace.path in noted_workspaces()
    shutil.rmtree(tmp_path / "gone")
    assert workspace.path not in noted_workspaces()
    assert not any(entry.read_text() == str(workspace.path) for entry in index_dir().iterdir())
