"""What each worker process runs: install the shim, start the scoring thread, build the app."""

from __future__ import annotations

import os
import sys

from mlnb.serving._keys import KeysFileError
from mlnb.serving.app import ScoringApp
from mlnb.serving.entry_script import EntryScript, load_entry_script
from mlnb.serving.scorer import Scorer
from mlnb.serving.settings import SETTINGS_ENV, Settings
from mlnb.serving.shim import install_azureml_shim
from mlnb.serving.supervisor import EXIT_INIT_FAILED, WorkerState

__all__ = ["create_app"]


def create_app() -> ScoringApp:
    """Build this worker's WSGI app; the entry script loads and ``init()`` runs in the background.

    Called by granian in each worker process (``--factory``). The app answers ``/`` and
    ``/ready`` at once; scoring requests wait until ``init()`` has returned.
    """
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
    return ScoringApp(settings, scorer, keys=keys)
