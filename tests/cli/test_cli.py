from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlnb import Model, Workspace
from mlnb.cli import main


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    return tmp_path


def test_register_list_show_download_delete(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
    assert (folder / "out" / "model.pkl").read_bytes() == b"weights"

    assert main(["model", "delete", "diabetes:1"]) == 0
    assert [m.id for m in Model.list(Workspace.from_config())] == ["diabetes:2"]


def test_errors_are_one_line_with_status_1(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["model", "register", "-n", "m", "-p", "model.pkl"])
    capsys.readouterr()
    assert main(["model", "show", "ghost"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mlnb: error: no model named 'ghost'") and err.count("\n") == 1
    assert main(["model", "download", "--model-id", "m:1", "--target-dir", "."]) == 1
    assert "already exists" in capsys.readouterr().err  # model.pkl is in the project folder


def test_usage_errors_exit_2(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "delete", "no-version"])
    assert exit_info.value.code == 2
    assert "NAME:VERSION" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["model", "register", "-n", "m", "-p", "model.pkl", "--tag", "novalue"])
    assert exit_info.value.code == 2


def test_without_a_workspace_the_fix_is_named(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "list"]) == 1
    assert "Workspace.create" in capsys.readouterr().err


def test_console_script_runs(folder: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mlnb.cli", "model", "register", "-n", "m", "-p", "model.pkl", "-w", str(folder)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (folder / ".mlnb" / "registry.db").is_file()


def test_deploy_score_logs_and_delete_a_service(
    project: tuple[Workspace, Model, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, model, source = project
    (source / "inferenceconfig.json").write_text(json.dumps({"entryScript": "score.py", "runtime": "python"}))
    (source / "deploymentconfig.json").write_text(json.dumps({"computeType": "local", "backend": "process"}))
    monkeypatch.chdir(workspace.path.parent)
    assert main(["deploy", "-n", "clisvc", "-m", model.id, "--ic", str(source / "inferenceconfig.json"),
                 "--dc", str(source / "deploymentconfig.json")]) == 0
    assert "clisvc: Healthy http://127.0.0.1:" in capsys.readouterr().out
    assert main(["service", "list"]) == 0
    assert "clisvc" in capsys.readouterr().out
    assert main(["service", "score", "clisvc", '{"data": [[1,2,3,4,5,6,7,8,9,10]]}']) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["service", "logs", "clisvc", "--tail", "3"]) == 0
    assert capsys.readouterr().out.count("\n") == 3
    assert main(["service", "score", "clisvc", '{"data": "bad"}']) == 1
    assert "answered 400" in capsys.readouterr().err
    assert main(["deploy", "-n", "clisvc", "-m", model.id, "--entry-script", "score.py", "--source-dir", str(source),
                 "--backend", "process"]) == 1
    assert "overwrite" in capsys.readouterr().err
    assert main(["service", "delete", "clisvc"]) == 0
    assert main(["service", "logs", "clisvc"]) == 1
    assert "no service named 'clisvc'" in capsys.readouterr().err


def test_demo_runs_the_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # the Docker path is tested in tests/docker
    from mlnb.deploy import backends

    monkeypatch.setattr(backends, "_INSTANCES", {})
    assert main(["demo", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "backend: process" in out and "Healthy" in out and "paths /, /score" in out
    assert "-> [6039.66" in out


def test_profile_a_service(project: tuple[Workspace, Model, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, model, source = project
    monkeypatch.chdir(workspace.path.parent)
    assert main(["deploy", "-n", "profiled", "-m", model.id, "--entry-script", "score.py", "--source-dir", str(source),
                 "--backend", "process"]) == 0
    requests_file = source / "requests.jsonl"
    requests_file.write_text('{"data": [[1,2,3,4,5,6,7,8,9,10]]}\n')
    capsys.readouterr()
    assert main(["profile", "profiled", "--data", str(requests_file), "--duration", "5", "--concurrency", "1,2"]) == 0
    results = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(results) == {"cpu", "memoryInGB"}
    assert main(["profile", "profiled", "--data", str(requests_file), "--concurrency", "x"]) == 1
