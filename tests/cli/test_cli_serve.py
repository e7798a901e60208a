"""`mlnb serve` hands its arguments to the scoring server untouched, as `python -m mlnb.serving` takes them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mlnb.cli import main

SCRIPT = """\
import os

def init():
    global folder
    folder = os.environ["AZUREML_MODEL_DIR"]

def run(data):
    return {"echo": data, "models": sorted(os.listdir(folder))}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            if requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server on port {port} did not answer in {timeout} s")


def test_serve_runs_an_entry_script(tmp_path: Path) -> None:
    (tmp_path / "score.py").write_text(SCRIPT)
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "model.pkl").write_bytes(b"w")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlnb.cli", "serve", "--entry-script", "score.py", "--model-dir", "outputs",
         "--port", str(port)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        wait_healthy(port, process)
        answer = requests.post(f"http://127.0.0.1:{port}/score", data='{"x": 1}', timeout=10)
        assert answer.status_code == 200 and answer.json() == {"echo": '{"x": 1}', "models": ["model.pkl"]}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output


def test_serve_help_is_the_servers_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--entry-script" in out and "--model-dir" in out and "--workers" in out


def test_serve_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "x"]) == 2
    assert "--port" in capsys.readouterr().err


def test_serve_is_listed_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "serve" in capsys.readouterr().out


@pytest.mark.parametrize("script", ["missing.py", "folder"])
def test_serve_names_a_missing_entry_script_in_one_line(tmp_path: Path, script: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "folder").mkdir()
    assert main(["serve", "--entry-script", script, "--app-root", str(tmp_path), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"mlnb.serving: error: entry script {tmp_path / script} is not a file; "
        f"check --entry-script (a relative path starts at --app-root, {tmp_path})"]
