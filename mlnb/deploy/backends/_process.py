"""The process backend: the scoring server as a child process on 127.0.0.1.

It needs no Docker engine (Binder, laptops without Docker) and starts in about a second.
The server runs with the notebook's own Python and packages, in its own session so it
outlives the kernel that started it; its PID and start time are recorded so any process
can find it, and a recorded PID that now belongs to another program is not mistaken
for it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import Deployment, RuntimeStatus, http_ready, server_arguments
from mlnb.deploy.backends._sampling import ProcessTreeSampler, Sampler
from mlnb.errors import ProfileFailed
from mlnb.image import stage_models, stage_source

_STOP_GRACE_SECONDS = 5.0


class ProcessBackend:
    """Runs services as local processes (``python -m mlnb.serving``)."""

    name = "process"

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Stage models and source in the service folder and start the server."""
        deployment.log(f"[mlnb] staging {len(deployment.models)} model(s) and the source directory")
        model_dir = stage_models(deployment.models, deployment.folder / "models")
        stage_source(deployment.inference_config.source_directory, deployment.folder / "app")
        return self._spawn(deployment, model_dir)

    def _spawn(self, deployment: Deployment, model_dir: Path) -> dict[str, Any]:
        app = deployment.folder / "app"
        arguments = server_arguments(
            entry_script=str(app / deployment.inference_config.entry_script),
            model_dir=str(model_dir),
            deployment=deployment,
            port=deployment.port,
        )
        environment = {
            **os.environ,
            **deployment.config.environment_variables,
            "AZUREML_MODEL_DIR": str(model_dir),
            "PYTHONUNBUFFERED": "1",
        }
        environment.pop("MLNB_MODEL_DIR", None)
        deployment.log(f"[mlnb] starting the scoring server on 127.0.0.1:{deployment.port}")
        with open(deployment.log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mlnb.serving", *arguments],
                cwd=app,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # survives the kernel, and is signalled as a group
            )
        return {
            "pid": process.pid,
            "started": psutil.Process(process.pid).create_time(),
            "model_dir": str(model_dir),
            "log": str(deployment.log_path),
        }

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """``running`` while the recorded process lives; ``exited`` with its exit status otherwise."""
        process = _find(record)
        if process is not None:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    return RuntimeStatus("running")
            except psutil.NoSuchProcess:
                pass
        return RuntimeStatus("exited", _exit_detail(record))

    def ready(self, record: ServiceRecord) -> bool:
        """Whether the server answers ``/ready``."""
        return http_ready(record.port)

    def logs(self, record: ServiceRecord) -> str:
        """The deployment log, which the server appends its output to."""
        path = _log_path(record)
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stream_logs(self, record: ServiceRecord, *, follow: bool) -> Iterator[str]:
        """Yield the log's lines; with ``follow``, keep yielding new ones while the process lives."""
        path = _log_path(record)
        if not path.exists():
            return
        with open(path, encoding="utf-8", errors="replace") as handle:
            pending = ""
            while True:
                chunk = handle.readline()
                if chunk:
                    pending += chunk
                    if pending.endswith("\n"):
                        yield pending.rstrip("\n")
                        pending = ""
                    continue
                if not follow or self.status(record).phase == "exited":
                    if pending:
                        yield pending
                    return
                time.sleep(0.1)

    def reload(self, record: ServiceRecord, deployment: Deployment) -> dict[str, Any]:
        """Copy the source again and restart the server (models stay staged)."""
        stage_source(deployment.inference_config.source_directory, deployment.folder / "app")
        self.stop(record)
        return self._spawn(deployment, Path(record.runtime["model_dir"]))

    def sampler(self, record: ServiceRecord) -> Sampler:
        """psutil over the server's process tree (PSS, so shared pages count once)."""
        process = _find(record)
        if process is None:
            raise ProfileFailed(f"service {record.name!r} has no running process; redeploy it and profile again")
        return ProcessTreeSampler(process.pid)

    def stop(self, record: ServiceRecord) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after a grace period.

        Workers left behind by a server process that died (killed, crashed) are in its
        group too, and are ended the same way.
        """
        members = _group_members(record)
        for member in members:
            _signal(member, signal.SIGTERM)
        _, alive = psutil.wait_procs(members, timeout=_STOP_GRACE_SECONDS)
        for member in alive:
            _signal(member, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=_STOP_GRACE_SECONDS)


def _group_members(record: ServiceRecord) -> list[psutil.Process]:
    """The processes of the server's group that were started with or after it.

    The start-time check keeps a recycled group id from naming someone else's processes.
    """
    group, started = record.runtime.get("pid"), record.runtime.get("started", 0.0)
    members = []
    for process in psutil.process_iter(["pid", "create_time"]):
        try:
            if os.getpgid(process.pid) == group and process.info["create_time"] >= started - 1.0:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _signal(process: psutil.Process, number: signal.Signals) -> None:
    try:
        process.send_signal(number)
    except psutil.NoSuchProcess:
        pass


def _log_path(record: ServiceRecord) -> Path:
    return Path(record.runtime["log"])


def _find(record: ServiceRecord) -> psutil.Process | None:
    pid = record.runtime.get("pid")
    if pid is None:
        return None
    try:
        process = psutil.Process(pid)
        # A recycled PID belongs to a process started at another time.
        if abs(process.create_time() - record.runtime["started"]) > 1.0:
            return None
    except psutil.NoSuchProcess:
        return None
    return process


def _exit_detail(record: ServiceRecord) -> str:
    pid = record.runtime.get("pid")
    try:
        # Our own child: reap it and read the status; another kernel's child is not ours to wait for.
        finished, status = os.waitpid(pid, os.WNOHANG) if pid else (0, 0)
    except ChildProcessError:
        finished, status = 0, 0
    if finished and os.WIFSIGNALED(status):
        return f"the server process was killed by signal {os.WTERMSIG(status)}"
    if finished and os.WIFEXITED(status):
        return f"the server process exited with status {os.WEXITSTATUS(status)}"
    return "the server process is no longer running"
