from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlnb import Model, Workspace
from mlnb.cli import main


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    return tmp_path


def test_register_list_show_download_delete(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "register", "-n", "diabetes", "-p", "model.pkl", "--tag", "area=diabetes",
                 "--description", "Ridge", "--framework", "scikitlearn"]) == 0
    assert "registered diabetes:1" in capsys.readouterr().out
    assert main(["model", "register", "-n", "diabetes", "-p", "model.pkl"]) == 0
    capsys.readouterr()

    assert main(["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert "diabetes" in listing and "area=diabetes" in listing

    assert main(["model", "show", "diabetes:1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "diabetes:1" and shown["framework"] == "ScikitLearn" and shown["tags"] == {"area": "diabetes"}
    assert main(["model", "show", "diabetes"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == 2

    assert main(["model", "download", "--model-id", "diabetes:1", "--target-dir", "out"]) == 0
    assert (project / "out" / "model.pkl").read_bytes() == b"weights"

    assert main(["model", "delete", "diabetes:1"]) == 0
    assert [m.id for m in Model.list(Workspace.from_config())] == ["diabetes:2"]


def test_errors_are_one_line_with_status_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["model", "register", "-n", "m", "-p", "model.pkl"])
    capsys.readouterr()
    assert main(["model", "show", "ghost"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlnb: error: no model named 'ghost'") and err.count("\n") == 1
    assert main(["model", "download", "--model-id", "m:1", "--target-dir", "."]) == 1
    assert "already exists" in capsys.readouterr().err  # model.pkl is in the project folder


def test_usage_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "delete", "no-version"])
    assert exit_info.value.code == 2
    assert "NAME:VERSION" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "register", "-n", "m", "-p", "model.pkl", "--tag", "novalue"])
    assert exit_info.value.code == 2


def test_without_a_workspace_the_fix_is_named(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "list"]) == 1
    assert "Workspace.create" in capsys.readouterr().err


def test_console_script_runs(project: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlnb.cli", "model", "register", "-n", "m", "-p", "model.pkl", "-w", str(project)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (project / ".mlnb" / "registry.db").is_file()
