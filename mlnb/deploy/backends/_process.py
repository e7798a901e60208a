"""The process backend: the scoring server as a child process on 127.0.0.1.

It needs no Docker engine (Binder, laptops without Docker) and starts in about a second.
The server runs with the notebook's own Python and packages, in its own session so it
outlives the kernel that started it; its PID and start time are recorded so any process
can find it, and a recorded PID that now belongs to another program is not mistaken
for it.

Each server generation is staged in its own folder of the service folder
(``g<generation>/``: models, source, keys file), so a new version can start while the old
one serves from its files. Servers listen with ``SO_REUSEPORT`` (granian does), and their
workers join the port only once ``init()`` has returned (``MLNB_LISTEN_AFTER_INIT``): a
switch starts the new server on the same port, waits until all its workers listen, then
stops the old one, and the kernel hands each new connection to a server that can answer it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from mlnb.deploy._records import ServiceRecord
from mlnb.deploy.backends._base import (
    Deployment,
    RuntimeStatus,
    collection_arguments,
    collection_folder,
    http_ready,
    server_arguments,
    write_keys_file,
)
from mlnb.deploy.backends._sampling import ProcessTreeSampler, Sampler
from mlnb.errors import DeploymentFailed, ProfileFailed
from mlnb.image import stage_models, stage_source

_STOP_GRACE_SECONDS = 5.0
# How long an old server may take to finish the requests it has when a new one took over.
_DRAIN_SECONDS = 30.0
_POLL_SECONDS = 0.05
_LISTEN_AFTER_INIT = {"MLNB_LISTEN_AFTER_INIT": "1"}


class ProcessBackend:
    """Runs services as local processes (``python -m mlnb.serving``)."""

    name = "process"

    def __init__(self) -> None:
        # The servers this process started, kept so the subprocess module does not reap them
        # behind our back (their exit status is read with waitpid when they are found gone).
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def start(self, deployment: Deployment) -> dict[str, Any]:
        """Stage models and source in the service folder and start the server."""
        return self._spawn(deployment, 1)

    def _spawn(self, deployment: Deployment, generation: int) -> dict[str, Any]:
        stage = deployment.folder / f"g{generation}"
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir(parents=True)
        deployment.log(f"[mlnb] staging {len(deployment.models)} model(s) and the source directory in {stage.name}/")
        model_dir = stage_models(deployment.models, stage / "models")
        app = stage / "app"
        stage_source(deployment.inference_config.source_directory, app)
        keys_file = write_keys_file(stage / "auth-keys", deployment.keys) if deployment.keys else None
        arguments = server_arguments(
            entry_script=str(app / deployment.inference_config.entry_script),
            model_dir=str(model_dir),
            deployment=deployment,
            port=deployment.port,
            keys_file=str(keys_file) if keys_file else None,
        )
        if collection_folder(deployment) is not None:
            assert deployment.collect_dir is not None  # a folder implies it
            arguments += collection_arguments(deployment, str(deployment.collect_dir))
        environment = {
            **os.environ,
            **deployment.config.environment_variables,
            **_LISTEN_AFTER_INIT,
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
        self._children[process.pid] = process
        return {
            "pid": process.pid,
            "started": psutil.Process(process.pid).create_time(),
            "generation": generation,
            "stage": str(stage),
            "model_dir": str(model_dir),
            "workers": deployment.config.workers or 1,
            "log": str(deployment.log_path),
        }

    def status(self, record: ServiceRecord) -> RuntimeStatus:
        """``running`` while the recorded process lives; ``exited`` with its exit status otherwise.

        Workers that outlived their server (it was killed) are ended here too, so an exited
        service answers nothing on its port.
        """
        process = _find(record)
        if process is not None:
            try:
                if process.status() != psutil.STATUS_ZOMBIE:
                    return RuntimeStatus("running")
            except psutil.NoSuchProcess:
                pass
        detail = self._exit_detail(record)
        _end(_group_members(record), grace=0.0)
        return RuntimeStatus("exited", detail)

    def _exit_detail(self, record: ServiceRecord) -> str:
        pid = record.runtime.get("pid")
        child = self._children.pop(pid, None) if pid else None
        try:
            # Our own child: reap it and read the status; another kernel's child is not ours to wait for.
            finished, status = os.waitpid(pid, os.WNOHANG) if pid else (0, 0)
        except ChildProcessError:
            finished, status = 0, 0
        if child is not None and finished:
            child.returncode = os.waitstatus_to_exitcode(status)
        if finished and os.WIFSIGNALED(status):
            return f"the server process was killed by signal {os.WTERMSIG(status)}"
        if finished and os.WIFEXITED(status):
            return f"the server process exited with status {os.WEXITSTATUS(status)}"
        return "the server process is no longer running"

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

    def switch(self, record: ServiceRecord, deployment: Deployment, *, rebuild: bool, timeout: float) -> dict[str, Any]:
        """Start a new server next to the old one on the same port, then stop the old one.

        ``update`` and ``reload`` both stage everything again (``rebuild`` changes nothing
        here: a process has no image).
        """
        for stray in _servers_in(deployment.folder, besides=record):
            _end(_group_members_of(stray), grace=_STOP_GRACE_SECONDS)
        offset = deployment.log_path.stat().st_size if deployment.log_path.exists() else 0
        runtime = self._spawn(deployment, int(record.runtime.get("generation", 0)) + 1)
        new = ServiceRecord(name=record.name, backend=self.name, port=deployment.port, spec=record.spec, runtime=runtime)
        try:
            self._wait_listening(new, deployment, offset, timeout)
        except BaseException:
            self._stop(new, grace=0.0)
            raise
        deployment.log("[mlnb] the new server answers on the port; stopping the old one")
        self._stop(record, grace=_DRAIN_SECONDS)
        return runtime

    def _wait_listening(self, record: ServiceRecord, deployment: Deployment, offset: int, timeout: float) -> None:
        """Wait until every worker of the server listens (so ``init()`` returned in each)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(record)
            if status.phase == "exited":
                output = _read_from(deployment.log_path, offset)
                raise DeploymentFailed(status.detail or "the server exited", logs=output)
            if _listeners(record) >= record.runtime["workers"]:
                return
            if time.monotonic() > deadline:
                output = _read_from(deployment.log_path, offset)
                raise DeploymentFailed(f"it was not ready after {timeout:g} s", logs=output)
            time.sleep(_POLL_SECONDS)

    def sampler(self, record: ServiceRecord) -> Sampler:
        """psutil over the server's process tree (PSS, so shared pages count once)."""
        process = _find(record)
        if process is None:
            raise ProfileFailed(f"service {record.name!r} has no running process; redeploy it and profile again")
        return ProcessTreeSampler(process.pid)

    def stop(self, record: ServiceRecord) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after a grace period.

        Workers left behind by a server process that died (killed, crashed) are in its
        group too, and are ended the same way; so is any other server of the service (one
        that a process which died during a switch left running). The staged files go too.
        """
        self._stop(record, grace=_STOP_GRACE_SECONDS)
        if "log" in record.runtime:
            for stray in _servers_in(Path(record.runtime["log"]).parent, besides=record):
                _end(_group_members_of(stray), grace=_STOP_GRACE_SECONDS)

    def _stop(self, record: ServiceRecord, *, grace: float) -> None:
        _end(_group_members(record), grace=grace)
        child = self._children.pop(record.runtime.get("pid", -1), None)
        if child is not None:
            child.poll()  # reap it
        stage = record.runtime.get("stage")
        if stage:
            shutil.rmtree(stage, ignore_errors=True)


def _end(members: list[psutil.Process], *, grace: float) -> None:
    """SIGTERM ``members``, and SIGKILL those still alive after ``grace`` seconds."""
    if not members:
        return
    for member in members:
        _signal(member, signal.SIGTERM if grace else signal.SIGKILL)
    _, alive = psutil.wait_procs(members, timeout=grace or _STOP_GRACE_SECONDS)
    for member in alive:
        _signal(member, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=_STOP_GRACE_SECONDS)


def _group_members(record: ServiceRecord) -> list[psutil.Process]:
    """The processes of the server's group that were started with or after it.

    The start-time check keeps a recycled group id from naming someone else's processes.
    """
    group = record.runtime.get("pid")
    if group is None:
        return []
    return _group_members_of((group, record.runtime.get("started", 0.0)))


def _group_members_of(leader: tuple[int, float]) -> list[psutil.Process]:
    group, started = leader
    members = []
    for process in psutil.process_iter(["pid", "create_time"]):
        try:
            if os.getpgid(process.pid) == group and process.info["create_time"] >= started - 1.0:
                members.append(process)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def _servers_in(folder: Path, *, besides: ServiceRecord) -> list[tuple[int, float]]:
    """Scoring servers (group leaders) staged in ``folder``, other than ``besides``'s: (pid, start time)."""
    marker = f"{folder}{os.sep}g"
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "create_time"]):
        try:
            cmdline = process.info["cmdline"] or []
            if (
                "mlnb.serving" in cmdline
                and any(part.startswith(marker) for part in cmdline)
                and os.getpgid(process.pid) == process.pid
                and process.pid != besides.runtime.get("pid")
            ):
                found.append((process.pid, process.info["create_time"]))
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def _listeners(record: ServiceRecord) -> int:
    """How many processes of the server listen on its port."""
    leader = _find(record)
    if leader is None:
        return 0
    count = 0
    try:
        tree = [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in tree:
        try:
            connections = member.net_connections("tcp")
        except psutil.Error:
            continue
        count += sum(1 for c in connections if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == record.port)
    return count


def _signal(process: psutil.Process, number: signal.Signals) -> None:
    try:
        process.send_signal(number)
    except psutil.NoSuchProcess:
        pass


def _log_path(record: ServiceRecord) -> Path:
    return Path(record.runtime["log"])


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read().decode("utf-8", errors="replace")


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
