"""The scoring thread: loads the entry script, calls ``init()`` once, then runs ``run()`` calls.

Each worker process has exactly one scoring thread, so ``run()`` is never called
concurrently within a process (as under azmlinfsrv's sync workers) and ``init()`` and
``run()`` share a thread. HTTP threads hand calls over and wait with the scoring timeout.
A call that overruns cannot be interrupted safely, so the worker is then abandoned: queued
calls are answered "restarting", and the process exits for the server to replace it.
"""

from __future__ import annotations

import _thread
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from mlnb.serving.entry_script import EntryScript

__all__ = ["Call", "ScoringTimeout", "Scorer", "WorkerRestarting"]

#: Exit status of a worker abandoned after a scoring timeout (EX_TEMPFAIL).
EXIT_ABANDONED = 75
# Long enough for the 504 that triggered the exit to be written out.
_EXIT_GRACE_S = 0.2


class ScoringTimeout(TimeoutError):
    """``run()`` did not return within the scoring timeout."""


class WorkerRestarting(RuntimeError):
    """This worker is being replaced after a scoring timeout; the call was not run."""


class Call:
    """One ``run()`` call handed from an HTTP thread to the scoring thread."""

    __slots__ = ("args", "done", "error", "func", "kwargs", "result", "run_ms")

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.result: Any = None
        self.error: BaseException | None = None
        self.run_ms = 0.0
        # A bare lock is the cheapest one-shot signal between two threads: the caller
        # blocks on it with a timeout, the scoring thread releases it.
        self.done = _thread.allocate_lock()
        self.done.acquire()


class Scorer:
    """Owns the scoring thread of one worker process.

    Args:
        load: Loads the entry script (runs in the scoring thread, before ``init()``).
        on_ready: Called once ``init()`` has returned.
        on_init_failed: Called with the traceback text when loading or ``init()`` fails;
            the worker is unusable afterwards.
    """

    def __init__(
        self,
        load: Callable[[], EntryScript],
        *,
        on_ready: Callable[[], None],
        on_init_failed: Callable[[str], None],
    ) -> None:
        self._load = load
        self._on_ready = on_ready
        self._on_init_failed = on_init_failed
        self._queue: queue.SimpleQueue[Call] = queue.SimpleQueue()
        self.ready = threading.Event()
        self.abandoned = False
        self.script: EntryScript | None = None
        self._thread = threading.Thread(target=self._main, name="mlnb-scoring", daemon=True)

    def start(self) -> None:
        """Start the scoring thread (it loads the script and calls ``init()`` first)."""
        self._thread.start()

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float) -> Call:
        """Run ``func(*args, **kwargs)`` on the scoring thread and wait for it.

        Returns:
            The finished call; ``error`` is set when ``func`` raised.

        Raises:
            ScoringTimeout: The call overran ``timeout_s``; the worker is now abandoned.
            WorkerRestarting: The worker was abandoned before the call could run.
        """
        if self.abandoned:
            raise WorkerRestarting("worker is restarting after a scoring timeout")
        call = Call(func, args, kwargs)
        self._queue.put(call)
        if not call.done.acquire(timeout=timeout_s):
            self._abandon()
            raise ScoringTimeout(f"run() did not return within {timeout_s * 1000:.0f} ms")
        if isinstance(call.error, WorkerRestarting):
            raise call.error
        return call

    def exit_after_response(self) -> None:
        """Exit the process shortly, so the server replaces this abandoned worker."""
        threading.Timer(_EXIT_GRACE_S, _exit_abandoned).start()

    def _abandon(self) -> None:
        self.abandoned = True
        print(
            f"mlnb.serving: run() overran the scoring timeout in worker pid {os.getpid()}; "
            "replacing the worker", file=sys.stderr, flush=True,
        )
        while True:
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                return
            waiting.error = WorkerRestarting("worker is restarting after a scoring timeout; retry")
            waiting.done.release()

    def _main(self) -> None:
        try:
            script = self._load()
            script.init()
        except BaseException:
            self._on_init_failed(traceback.format_exc())
            return
        self.script = script
        self.ready.set()
        self._on_ready()
        get = self._queue.get
        clock = time.perf_counter
        while True:
            call = get()
            start = clock()
            try:
                call.result = call.func(*call.args, **call.kwargs)
            except BaseException as exc:
                call.error = exc
                traceback.print_exc()
            call.run_ms = (clock() - start) * 1000.0
            call.done.release()


def _exit_abandoned() -> None:
    sys.stderr.flush()
    os._exit(EXIT_ABANDONED)
