"""What each worker process runs: install the shim, start the scoring thread, build the app."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys

from mlnb.serving._keys import KeysFileError
from mlnb.serving._rsgi import RSGIApp
from mlnb.serving.app import ScoringApp
from mlnb.serving.entry_script import EntryScript, load_entry_script
from mlnb.serving.scorer import Scorer
from mlnb.serving.settings import SETTINGS_ENV, Settings
from mlnb.serving.shim import install_azureml_shim
from mlnb.serving.supervisor import EXIT_INIT_FAILED, WorkerState

__all__ = ["INIT_WAIT_THREADS", "LISTEN_AFTER_INIT_ENV", "create_app"]

#: ``1``: a worker joins the port only once ``init()`` has returned (a port handover: the
#: old server keeps every request until the new one can answer it, and a failing ``init()``
#: never receives one).
LISTEN_AFTER_INIT_ENV = "MLNB_LISTEN_AFTER_INIT"
_PR_SET_PDEATHSIG = 1
#: Threads per worker for /score requests that arrive before init() has returned (they
#: wait for it there, not on the event loop); later requests hold no thread.
INIT_WAIT_THREADS = 2


def create_app() -> ScoringApp | RSGIApp:
    """Build this worker's app; the entry script loads and ``init()`` runs in the background.

    Called by granian in each worker process (``--factory``): the WSGI app, or with
    ``--body-timeout-s`` the event-loop front (RSGI) in front of it. The app
    answers ``/`` and ``/ready`` at once; scoring requests wait until ``init()`` has returned.
    """
    _die_with_the_server()
    settings = Settings.from_json(os.environ[SETTINGS_ENV])
    state = WorkerState.from_env()
    try:
        keys = settings.auth_keys()  # read here, so no key is in any process's arguments or environment
    except KeysFileError as exc:
        print(f"mlnb.serving: worker pid {os.getpid()} cannot start: {exc}", file=sys.stderr, flush=True)
        if state is not None:
            state.mark_init_failed()
        os._exit(EXIT_INIT_FAILED)
    install_azureml_shim()

    def load() -> EntryScript:
        return load_entry_script(settings.entry_script, app_root=settings.app_root)

    def on_ready() -> None:
        if state is not None:
            state.mark_ready(os.getpid())

    def on_init_failed(trace: str) -> None:
        print(f"mlnb.serving: the entry script failed to start in worker pid {os.getpid()}:\n{trace}",
              file=sys.stderr, flush=True)
        if state is not None:
            state.mark_init_failed()
        os._exit(EXIT_INIT_FAILED)

    scorer = Scorer(load, on_ready=on_ready, on_init_failed=on_init_failed)
    scorer.start()
    if os.environ.get(LISTEN_AFTER_INIT_ENV) == "1":
        scorer.ready.wait()  # granian binds this worker's socket when the factory returns
    app = ScoringApp(settings, scorer, keys=keys)
    if settings.body_timeout_s is None:
        return app
    return RSGIApp(app, scorer, max_body_bytes=int(settings.max_body_mb * 2**20), body_timeout_s=settings.body_timeout_s,
                   scoring_timeout_s=settings.timeout_ms / 1000.0, threads=INIT_WAIT_THREADS)


def _die_with_the_server() -> None:
    """Have the kernel kill this worker when its server process dies, even by SIGKILL (Linux).

    Otherwise workers orphaned by a killed server keep answering on the port.
    """
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the server died before prctl took effect
        os._exit(1)
