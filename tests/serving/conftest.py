"""Start the serving runtime as a real subprocess, the way images and the process backend do.

The server runs from a copy of ``mlnb/serving`` next to an empty ``mlnb/__init__.py`` (the
image layout), which also proves the runtime imports nothing else from mlnb.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

SCRIPTS = Path(__file__).with_name("scripts")
SERVING_SRC = Path(__file__).resolve().parents[2] / "mlnb" / "serving"
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running server subprocess."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def score_url(self) -> str:
        return f"{self.url}/score"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)


#: Server flags of the event-loop front (``--body-timeout-s``); the default front is WSGI.
LOOP_FRONT = ("--body-timeout-s", "60")


@pytest.fixture(scope="module", params=[(), LOOP_FRONT], ids=["wsgi", "loop"])
def front(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """The flags of each HTTP front in turn: tests that take it run under both."""
    flags: tuple[str, ...] = request.param
    return flags


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PYTHONPATH entry holding only ``mlnb/__init__.py`` (empty) and ``mlnb/serving``."""
    root = tmp_path_factory.mktemp("runtime")
    (root / "mlnb").mkdir()
    (root / "mlnb" / "__init__.py").write_text("")
    shutil.copytree(SERVING_SRC, root / "mlnb" / "serving", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="session")
def launch(runtime_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A function that starts a server: ``launch(args, env=..., wait=True, new_session=False) -> Server``.

    ``new_session`` starts it in its own session and process group (a signal to the group
    then reaches the server and its workers, as ``timeout`` sends one).
    """
    started: list[Server] = []

    def _launch(args: Sequence[str], *, env: dict[str, str] | None = None, wait: bool = True,
                cwd: Path | None = None, new_session: bool = False) -> Server:
        port = free_port()
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith(("AZUREML_", "MLNB_", "AML_")) and k not in ("WORKER_COUNT", "SCORING_TIMEOUT_MS")}
        environ["PYTHONPATH"] = str(runtime_dir)
        environ["PYTHONUNBUFFERED"] = "1"
        environ.update(env or {})
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "mlnb.serving", "--port", str(port), *args],
                                    stdout=log, stderr=subprocess.STDOUT, env=environ, cwd=cwd or runtime_dir,
                                    start_new_session=new_session)
        server = Server(proc=proc, url=f"http://127.0.0.1:{port}", log_path=log_path)
        started.append(server)
        if wait:
            wait_ready(server)
        return server

    yield _launch
    for server in started:
        server.stop()


def wait_ready(server: Server, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Poll ``/ready`` until it answers 200; fail with the log if the server exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"server exited with {server.proc.returncode}:\n{server.log()}")
        try:
            if requests.get(f"{server.url}/ready", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"server not ready after {timeout_s}s:\n{server.log()}")


def script(name: str) -> str:
    """The path of a fixture entry script."""
    return str(SCRIPTS / name)
