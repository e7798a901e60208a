"""Run the scoring app under granian's process manager, with mlnb's failure policy.

granian (a Rust HTTP server; its WSGI interface, or RSGI for the event-loop front) owns
the listening socket, the worker processes and keep-alive connections. mlnb adds, through a
small state folder shared with the workers:

* ``init()`` failing in any worker stops the whole server with :data:`EXIT_INIT_FAILED`
  (the traceback is already in the log), instead of respawning into the same failure;
* a worker that dies after it was ready (``os._exit``, a segfault, a scoring timeout) is
  always replaced: granian's crash-loop guard, meant for workers that cannot start, would
  otherwise stop the service when two such deaths come within a few seconds;
* a worker that gets SIGTERM or SIGINT while it starts (loading the script, or waiting for
  ``init()`` with ``MLNB_LISTEN_AFTER_INIT=1``) dies of it. A forked worker inherits the
  server's handler until granian installs the worker's own, and that handler only flags the
  worker's copy of the server: the signal was lost, the worker ran on, and the server waited
  for it forever.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["EXIT_INIT_FAILED", "STATE_ENV", "WorkerState", "serve"]

STATE_ENV = "MLNB_SERVING_STATE_DIR"
#: Exit status of the server when the entry script's ``init()`` (or import) fails.
EXIT_INIT_FAILED = 3
_INIT_FAILED = "init-failed"


class WorkerState:
    """The state folder shared by the supervisor and its workers.

    Args:
        folder: The folder; created by the supervisor, named to workers by ``STATE_ENV``.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def from_env(cls) -> WorkerState | None:
        """The state folder of the supervisor that started this worker, if any."""
        folder = os.environ.get(STATE_ENV)
        return cls(folder) if folder else None

    def mark_ready(self, pid: int) -> None:
        """Record that worker ``pid`` finished ``init()``."""
        (self.folder / f"ready-{pid}").touch()

    def was_ready(self, pid: int | None) -> bool:
        """Whether worker ``pid`` finished ``init()`` before it exited."""
        return pid is not None and (self.folder / f"ready-{pid}").exists()

    def mark_init_failed(self) -> None:
        """Record that ``init()`` failed: the server must stop."""
        (self.folder / _INIT_FAILED).touch()

    def init_failed(self) -> bool:
        """Whether a worker's ``init()`` failed."""
        return (self.folder / _INIT_FAILED).exists()


def _server_class() -> type:
    from granian.server import MPServer

    class _Server(MPServer):
        state: WorkerState

        def signal_handler_interrupt(self, signum: int, *args: Any) -> None:
            if os.getpid() != self.pid:
                # A worker that has not installed its own handlers yet: die of the signal.
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
                return
            super().signal_handler_interrupt(signum, *args)  # type: ignore[no-untyped-call]

        def _respawn_workers(self, workers: list[int], spawn_target: Any, target_loader: Any,
                             delay: float = 0) -> None:
            if self.state.init_failed():
                # Respawning would only replay the same init() traceback: stop instead.
                self.interrupt_signal = True
                self.main_loop_interrupt.set()
                return
            served = [idx for idx in workers if self.state.was_ready(self.wrks[idx].inner.pid)]
            super()._respawn_workers(workers, spawn_target, target_loader, delay)
            for idx in served:
                self.respawned_wrks.pop(idx, None)

    return _Server


def _front(event_loop: bool) -> dict[str, Any]:
    """granian's interface options: WSGI, or RSGI for the event-loop front (``--body-timeout-s``)."""
    from granian.constants import Interfaces, RuntimeModes

    if event_loop:
        # Each worker's event loop reads bodies (with the deadline) and answers health checks;
        # run() stays on the worker's scoring thread (mlnb/serving/_rsgi.py).
        return {"interface": Interfaces.RSGI, "runtime_mode": RuntimeModes.mt}
    # More than one HTTP thread, so health checks answer while run() is busy; run() itself is
    # serialised on the worker's scoring thread. More threads cost throughput (measured: a
    # third less at 32 connections with 16 threads).
    return {"interface": Interfaces.WSGI, "blocking_threads": 2}


def serve(settings: Any) -> int:
    """Serve until interrupted; return the process exit status.

    Args:
        settings: The :class:`~mlnb.serving.settings.Settings`.

    Returns:
        0 after a normal shutdown, :data:`EXIT_INIT_FAILED` when the entry script could not
        start, another non-zero status when granian stopped on an error.
    """
    from granian.constants import HTTPModes
    from granian.log import LogLevels

    from mlnb.serving.settings import SETTINGS_ENV

    folder = tempfile.mkdtemp(prefix="mlnb-serving-")
    state = WorkerState(folder)
    os.environ[SETTINGS_ENV] = settings.to_json()
    os.environ[STATE_ENV] = folder
    if settings.metrics:
        # Every worker's prometheus_client files, in a folder that starts empty and goes with
        # the state folder at shutdown. Never import prometheus_client here: forked workers
        # would inherit its single-process mode (docs/monitoring.md).
        metrics_dir = os.path.join(folder, "metrics")
        os.mkdir(metrics_dir)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if settings.model_dir:
        os.environ["AZUREML_MODEL_DIR"] = os.path.abspath(settings.model_dir)
    server = _server_class()(
        "mlnb.serving.worker:create_app",
        address=settings.host,
        port=settings.port,
        workers=settings.workers,
        **_front(settings.body_timeout_s is not None),
        http=HTTPModes.http1,
        websockets=False,
        respawn_failed_workers=True,
        log_level=LogLevels.warning,
        factory=True,
    )
    server.state = state
    code: int | str | None = 0
    print(f"mlnb.serving: serving {settings.entry_script} on http://{settings.host}:{settings.port} "
          f"with {settings.workers} worker(s)", file=sys.stderr, flush=True)
    try:
        server.serve()
    except SystemExit as exc:
        code = exc.code
    finally:
        failed = state.init_failed()
        shutil.rmtree(folder, ignore_errors=True)
    if failed:
        print("mlnb.serving: the entry script failed to start (traceback above); exiting",
              file=sys.stderr, flush=True)
        return EXIT_INIT_FAILED
    return code if isinstance(code, int) else (1 if code else 0)
