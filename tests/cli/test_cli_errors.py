"""User mistakes on the command line: `mlnb: error: <one line>` and status 1 (2 for usage), no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.cli import main
from mlnb.errors import PortInUse


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.pkl").write_bytes(b"weights")
    (tmp_path / "afile").write_text("mine")
    assert main(["model", "register", "-n", "m", "-p", "model.pkl"]) == 0
    return tmp_path


def _mlnb(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    env.pop("MLNB_WORKSPACE", None)
    return subprocess.run(
        [sys.executable, "-m", "mlnb.cli", *args], cwd=folder, capture_output=True, text=True, env=env, check=False,
        timeout=120,
    )


CASES = {
    "score @missing file": (
        ["service", "score", "myservice", "@missing.json"],
        "mlnb: error: cannot read the payload file 'missing.json': No such file or directory; "
        "pass a JSON string or @FILE naming a readable file",
    ),
    "score @folder": (
        ["service", "score", "myservice", "@."],
        "mlnb: error: cannot read the payload file '.': Is a directory; pass a JSON string or @FILE naming a readable file",
    ),
    "download into a file": (
        ["model", "download", "--model-id", "m:1", "--target-dir", "afile"],
        "mlnb: error: target_dir 'afile' is a file, not a folder; pass the folder to download into",
    ),
    "download under a file": (
        ["model", "download", "--model-id", "m:1", "--target-dir", "afile/sub"],
        "mlnb: error: cannot create target_dir 'afile/sub': a part of that path is a file; pass a folder",
    ),
    "workspace in a file": (
        ["model", "register", "-n", "m", "-p", "model.pkl", "-w", "afile/project"],
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_user_mistakes_are_one_line_status_1(case: str, folder: Path) -> None:
    args, expected = CASES[case]
    result = _mlnb(folder, *args)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("mlnb: error: ") and result.stderr.count("\n") == 1, result.stderr
    if expected is not None:
        assert result.stderr == expected + "\n"
    assert (folder / "afile").read_text() == "mine"


def test_demo_into_a_file_is_one_line(folder: Path) -> None:
    result = _mlnb(folder, "demo", "--dir", "afile")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"mlnb: error: cannot create a workspace in {str(folder / 'afile')!r}: it is a file; pass a folder"
    ]


@pytest.mark.parametrize(
    "args",
    [["model", "show", "m:1\n"], ["model", "delete", "-m:1"], ["model", "show", "nаme"], ["service", "score", "-x", "{}"]],
    ids=repr,
)
def test_malformed_names_are_usage_errors(folder: Path, args: list[str]) -> None:
    result = _mlnb(folder, *args)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "mlnb" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("name", ["myservice\n", "-myservice", "mysеrvice"], ids=repr)
def test_malformed_service_names_are_refused(folder: Path, name: str) -> None:
    result = _mlnb(folder, "deploy", f"--name={name}", "-m", "m:1", "--backend", "process")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("mlnb: error: invalid service name") and "Traceback" not in result.stderr


def test_a_bug_keeps_its_traceback(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlnb.registry import Model

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Model, "list", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["model", "list"])


def test_a_failed_profile_says_its_reason_once(project: tuple[Workspace, Model, Path], capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    workspace, model, source = project
    monkeypatch.chdir(workspace.path.parent)
    assert main(["deploy", "-n", "toofast", "-m", model.id, "--entry-script", "score.py", "--source-dir", str(source),
                 "--backend", "process"]) == 0
    requests_file = source / "requests.jsonl"
    requests_file.write_text('{"data": [[1,2,3,4,5,6,7,8,9,10]]}\n')
    capsys.readouterr()
    assert main(["profile", "toofast", "--data", str(requests_file), "--duration", "0.5", "--concurrency", "1,2,4"]) == 1
    shown = capsys.readouterr()
    assert (shown.out + shown.err).count("per concurrency level") == 1, shown
    assert shown.err == "mlnb: error: profiling toofast failed (the reason is in the line above)\n"


def test_a_taken_port_is_worded_for_each_front_end(project: tuple[Workspace, Model, Path], capsys: pytest.CaptureFixture[str]) -> None:
    workspace, model, source = project
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as api:  # the Python API: in its own terms
            Model.deploy(workspace, "taken", [model], InferenceConfig("score.py", source_directory=source),
                         LocalWebservice.deploy_configuration(port, backend="process"))
        assert str(api.value) == (f"port {port} is in use by another process; choose another port, or leave port out of "
                                  "LocalWebservice.deploy_configuration(...) to pick a free one")
        assert main(["deploy", "-n", "taken", "-m", model.id, "--entry-script", "score.py", "--source-dir", str(source),
                     "--backend", "process", "--port", str(port), "-w", str(workspace.path.parent)]) == 1
        assert capsys.readouterr().err == f"mlnb: error: port {port} is in use by another process; omit --port to pick a free one\n"
