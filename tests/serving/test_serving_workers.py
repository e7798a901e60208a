"""Worker life cycle: init once per worker, timeouts, crashes, and init() failing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import requests
from conftest import Server, script


def pid_when_answering(server: Server, timeout_s: float = 60.0) -> int:
    """Poll until ``/score`` answers again; return the pid of the worker that answered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            response = requests.post(server.score_url, json={"action": "pid"}, timeout=10)
            if response.status_code == 200:
                return int(response.json()["pid"])
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"service did not answer again:\n{server.log()}")


@pytest.fixture
def single_worker(launch: object, tmp_path: Path, front: tuple[str, ...]) -> tuple[Server, Path]:
    marker = tmp_path / "inits.txt"
    server = launch(["--entry-script", script("raw.py"), "--workers", "1", "--timeout-ms", "1000", *front],  # type: ignore[operator]
                    env={"MLNB_TEST_INIT_MARKER": str(marker)})
    return server, marker


def test_timeout_is_504_and_the_worker_is_replaced(single_worker: tuple[Server, Path]) -> None:
    server, marker = single_worker
    before = pid_when_answering(server)
    response = requests.post(server.score_url, json={"action": "sleep", "seconds": 30}, timeout=20)
    assert response.status_code == 504
    assert "timeout" in response.json()["message"]
    after = pid_when_answering(server)
    assert after != before
    assert marker.read_text().split() == [str(before), str(after)]  # init() ran once per worker
    assert server.proc.poll() is None


@pytest.mark.parametrize("action", ["exit", "segfault"])
def test_dead_workers_are_replaced_even_twice_in_a_row(single_worker: tuple[Server, Path], action: str) -> None:
    server, _ = single_worker
    pids = [pid_when_answering(server)]
    for _ in range(2):
        with pytest.raises(requests.ConnectionError):
            requests.post(server.score_url, json={"action": action}, timeout=20)
        pids.append(pid_when_answering(server))
    assert len(set(pids)) == 3
    assert server.proc.poll() is None


def test_init_failure_exits_non_zero_with_the_traceback(launch: object) -> None:
    server = launch(["--entry-script", script("init_fails.py"), "--workers", "2"], wait=False)  # type: ignore[operator]
    assert server.proc.wait(60) == 3
    log = server.log()
    assert "RuntimeError: model file is corrupt: boom-4242" in log
    assert "init_fails.py" in log


def test_a_missing_entry_script_is_one_line_before_any_worker(launch: object, runtime_dir: Path, tmp_path: Path) -> None:
    server = launch(["--entry-script", str(tmp_path / "absent.py")], wait=False)  # type: ignore[operator]
    assert server.proc.wait(60) == 2
    assert server.log().strip().splitlines() == [
        f"mlnb.serving: error: entry script {tmp_path / 'absent.py'} is not a file; "
        f"check --entry-script (a relative path starts at --app-root, {runtime_dir})"]


def test_two_workers_each_run_init(launch: object, tmp_path: Path) -> None:
    marker = tmp_path / "inits.txt"
    server = launch(["--entry-script", script("raw.py"), "--workers", "2"],  # type: ignore[operator]
                    env={"MLNB_TEST_INIT_MARKER": str(marker)})
    seen = {pid_when_answering(server) for _ in range(50)}
    deadline = time.monotonic() + 30
    while len(marker.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(marker.read_text().split()) == 2
    assert seen <= set(map(int, marker.read_text().split()))


@pytest.mark.parametrize("group", [False, True], ids=["server", "process-group"])
def test_sigterm_while_workers_start_stops_everything(launch: object, tmp_path: Path, group: bool) -> None:
    # Workers inside init(), before granian installs their signal handlers (as under
    # `timeout 12 python -m mlnb.serving ...`, which signals the whole process group).
    marker = tmp_path / "inits.txt"
    server: Server = launch(["--entry-script", script("raw.py"), "--workers", "2"], wait=False,  # type: ignore[operator]
                            env={"MLNB_TEST_INIT_MARKER": str(marker), "MLNB_TEST_INIT_SLEEP": "60",
                                 "MLNB_LISTEN_AFTER_INIT": "1"}, new_session=group)
    deadline = time.monotonic() + 30
    while not (marker.exists() and len(marker.read_text().split()) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = psutil.Process(server.proc.pid).children(recursive=True)
    assert len(workers) == 2, server.log()
    if group:
        os.killpg(server.proc.pid, signal.SIGTERM)
    else:
        server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        pytest.fail(f"the server did not stop within 10 s of SIGTERM:\n{server.log()}")
    gone, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive, f"workers left running: {alive}"
