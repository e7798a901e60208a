"""The scoring thread: loads the entry script, calls ``init()`` once, then runs ``run()`` calls.

Each worker process has exactly one scoring thread, so ``run()`` is never called
concurrently within a process (as under azmlinfsrv's sync workers) and ``init()`` and
``run()`` share a thread. Requests hand calls over and wait with the scoring timeout, on a
thread (:meth:`Scorer.call`) or on the worker's event loop (:meth:`Scorer.submit`, then
``Call.notify`` when it is done).
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

    __slots__ = ("args", "done", "error", "func", "kwargs", "notify", "result", "run_ms")

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
        #: Called (on the scoring thread) once the call is done, for waiters that cannot block.
        self.notify: Callable[[], object] | None = None

    def finish(self) -> None:
        """Signal that the call is done (its result or error is set)."""
        self.done.release()
        if self.notify is not None:
            self.notify()


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

    def call(self, call: Call, timeout_s: float) -> None:
        """Run ``call`` on the scoring thread and wait for it; ``call.error`` is set when it raised.

        Raises:
            ScoringTimeout: The call overran ``timeout_s``; the worker is now abandoned.
            WorkerRestarting: The worker was abandoned before the call could run.
        """
        self.submit(call)
        if not call.done.acquire(timeout=timeout_s):
            raise self.overran(timeout_s)
        self.check(call)

    def submit(self, call: Call) -> None:
        """Queue ``call`` for the scoring thread without waiting (``call.notify`` says when it is done).

        Raises:
            WorkerRestarting: The worker is abandoned; the call will not run.
        """
        if self.abandoned:
            raise WorkerRestarting("worker is restarting after a scoring timeout")
        self._queue.put(call)

    def check(self, call: Call) -> None:
        """After a submitted call is done: raise :class:`WorkerRestarting` if it never ran."""
        if isinstance(call.error, WorkerRestarting):
            raise call.error

    def overran(self, timeout_s: float) -> ScoringTimeout:
        """A waiter gave up on a call after ``timeout_s``: abandon the worker; returns the error to raise."""
        self._abandon()
        return ScoringTimeout(f"run() did not return within {timeout_s * 1000:.0f} ms")

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
            waiting.finish()

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
            call.finish()


def _exit_abandoned() -> None:
    sys.stderr.flush()
    os._exit(EXIT_ABANDONED)
