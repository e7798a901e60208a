"""The two threading patterns every panel uses: one job at a time, and a throttled pump.

Widgets are only ever changed by setting trait values, which ipywidgets syncs through
the comm from any thread; nothing here writes to an ``Output`` widget from a thread
(``with output:`` captures the *kernel's* current cell, not the thread's).
"""

from __future__ import annotations

import html
import threading
import traceback
from collections.abc import Callable, Sequence

import ipywidgets as widgets

from mlnb.errors import MlnbError


def one_line(error: BaseException) -> str:
    """The first line of an error: the engine's message, or the type and message of a bug."""
    lines = str(error).strip().splitlines()
    first = lines[0] if lines else ""
    if isinstance(error, MlnbError):
        return first or type(error).__name__
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def error_html(error: BaseException) -> str:
    """An error as one red line; a bug (not an ``MlnbError``) also carries its traceback, folded."""
    line = f"<span class='mlnb-error'>&#x2716; {html.escape(one_line(error))}</span>"
    if isinstance(error, MlnbError):
        return line
    trace = "".join(traceback.format_exception(error))
    return f"<details><summary>{line}</summary><pre class='mlnb-trace'>{html.escape(trace)}</pre></details>"


class Background:
    """Runs a panel's slow work in a thread, one job at a time.

    While a job runs, the given buttons are disabled; an exception ends up in the
    ``status`` label as one line (and in :attr:`last_error`), never in a traceback the
    user cannot see.

    Args:
        status: the label that shows errors (cleared when a job starts).
    """

    def __init__(self, status: widgets.HTML) -> None:
        self._status = status
        self._thread: threading.Thread | None = None
        self.last_error: BaseException | None = None

    @property
    def busy(self) -> bool:
        """Whether a job is running."""
        return self._thread is not None and self._thread.is_alive()

    def run(self, work: Callable[[], object], *, buttons: Sequence[widgets.Widget] = (), name: str = "mlnb-widget") -> bool:
        """Start ``work`` in a daemon thread unless a job is running.

        Returns:
            Whether the job started.
        """
        if self.busy:
            return False
        # Disabled before the thread starts, so a double click cannot start a second job.
        for button in buttons:
            button.disabled = True
        self.last_error = None
        self._status.value = ""

        def target() -> None:
            try:
                work()
            except Exception as error:  # the label is the only place a thread can report to
                self.last_error = error
                self._status.value = error_html(error)
            finally:
                for button in buttons:
                    button.disabled = False

        self._thread = threading.Thread(target=target, name=name, daemon=True)
        self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        """Wait for the running job (tests and scripts; never called from a button)."""
        if self._thread is not None:
            self._thread.join(timeout)


class Pump:
    """One daemon thread that calls ``render`` a few times a second while there is news.

    Producers call :meth:`poke` as often as they like (every log line); the pump
    coalesces those into at most one ``render`` per ``interval``, so a burst of thousands
    of lines costs a handful of widget updates.

    Args:
        render: updates the widgets from the producer's state; must be thread-safe.
        interval: seconds between renders while pokes keep coming.
        name: the thread's name.
    """

    def __init__(self, render: Callable[[], None], *, interval: float = 0.25, name: str = "mlnb-pump") -> None:
        self._render = render
        self._interval = interval
        self._name = name
        self._dirty = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def poke(self) -> None:
        """Ask for a render soon; starts the thread on first use."""
        self._dirty.set()
        with self._lock:
            if self._thread is None and not self._stopped.is_set():
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.is_set():
            self._dirty.wait()
            if self._stopped.is_set():
                return
            self._dirty.clear()
            self._render()
            # Pokes during the pause coalesce into the next render.
            self._stopped.wait(self._interval)

    def stop(self) -> None:
        """End the thread after its current render."""
        self._stopped.set()
        self._dirty.set()


class Ticker:
    """Calls ``tick`` every ``interval`` seconds in a daemon thread until stopped.

    Args:
        tick: the periodic work; an exception goes to ``on_error`` and ticking goes on.
        interval: seconds between ticks.
        on_error: receives a tick's exception.
        name: the thread's name.
    """

    def __init__(
        self, tick: Callable[[], None], *, interval: float, on_error: Callable[[BaseException], None], name: str = "mlnb-ticker"
    ) -> None:
        self._tick = tick
        self._interval = interval
        self._on_error = on_error
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._tick()
            except Exception as error:  # a transient failure must not end the ticking
                self._on_error(error)

    def stop(self) -> None:
        """Stop ticking."""
        self._stopped.set()
