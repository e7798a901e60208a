"""One live progress line for a deployment in a notebook cell, instead of its whole log.

A deployment goes through four phases, read from its log and its state: *build* (the
requirements, the wheelhouse, the image or the staged folder), *start* (the container or
process is being started), *init* (the server runs the entry script's ``init()``) and the
outcome, *Healthy* or *Failed*. :class:`LiveProgress` shows one element in the cell and
updates it in place (an IPython display with a ``display_id``) with the phase, the elapsed
time and the log's last line; at the end the full log is one click away (a collapsed
``<details>``), and a failure shows its traceback in full.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from mlnb import _html
from mlnb.deploy._traceback import last_traceback
from mlnb.errors import DeploymentFailed

PHASES = ("build", "start", "init")
#: How often the line is redrawn while the deployment runs.
REFRESH_SECONDS = 0.5
_STEP_CHARS = 120
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_STARTING = re.compile(r"^\[mlnb\] starting (?:container|the scoring server)\b")
_SERVING = re.compile(r"^mlnb\.serving: serving\b")


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (a notebook, JupyterLab, Voila), not a terminal."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def phase_of(log: str) -> str:
    """The phase a deployment is in, judged from its log: ``"build"``, ``"start"`` or ``"init"``.

    The last start in the log counts (an update logs a second one).
    """
    phase = "build"
    for line in log.splitlines():
        if _STARTING.match(line):
            phase = "start"
        elif phase == "start" and _SERVING.match(line):
            phase = "init"
    return phase


def last_step(log: str) -> str:
    """The log's last non-blank line, without colour codes or mlnb's prefix, cut short."""
    for line in reversed(log.splitlines()):
        text = _ANSI.sub("", line).strip()
        if text:
            text = text.removeprefix("[mlnb] ")
            return text if len(text) <= _STEP_CHARS else text[: _STEP_CHARS - 1] + "…"
    return "waiting for the first log line"


class ProgressView:
    """What the cell shows: one line while it runs; the outcome, the traceback and the log at the end.

    Attributes:
        name: the service.
        phase: ``"build"``, ``"start"``, ``"init"``, ``"Healthy"`` or ``"Failed"``.
        elapsed: seconds since the deployment began.
        step: the log's last line (while it runs), the scoring URI or the error (at the end).
        log: the full log, shown (collapsed) only at the end.
        traceback: the failure's traceback, shown in full.
    """

    def __init__(self, name: str, phase: str, elapsed: float, step: str, *, log: str = "", traceback: str = "") -> None:
        self.name, self.phase, self.elapsed, self.step = name, phase, elapsed, step
        self.log, self.traceback = log, traceback

    @property
    def done(self) -> bool:
        """Whether the deployment has an outcome."""
        return self.phase not in PHASES

    def line(self) -> str:
        """The one line, as text."""
        if self.done:
            return f"{self.name}: {self.phase} after {self.elapsed:.0f} s · {self.step}"
        path = " → ".join(f"[{p}]" if p == self.phase else p for p in (*PHASES, "Healthy"))
        return f"{self.name}: {path} · {self.elapsed:.0f} s · {self.step}"

    def __repr__(self) -> str:
        text = self.line()
        if self.traceback:
            text += "\n" + self.traceback
        return text

    def _repr_html_(self) -> str:
        if not self.done:
            path = " → ".join(f"<b>{p}</b>" if p == self.phase else f"<span style='color:gray'>{p}</span>"
                              for p in (*PHASES, "Healthy"))
            return (f"<div class='mlnb-progress'>{_html.code(self.name)} {path} · {self.elapsed:.0f} s · "
                    f"{_html.code(self.step)} <span style='color:gray'>(%logs {self.name} for the full log)</span></div>")
        lines = self.log.count("\n")
        parts = [f"<div class='mlnb-progress'>{_html.code(self.name)} {_html.state(self.phase)} after "
                 f"{self.elapsed:.0f} s · {_html.code(self.step)}</div>"]
        if self.traceback:
            parts.append(_html.pre(self.traceback, max_height_em=40))
        parts.append(_html.details(f"full log ({lines} lines; also %logs {self.name})", _html.pre(self.log)))
        return "".join(parts)


class LiveProgress:
    """Show a deployment's progress as one element in the cell, redrawn in place.

    Use it as a context manager around the wait (a thread redraws the line every
    :data:`REFRESH_SECONDS` from ``read_log``), then call :meth:`finish`.

    Args:
        name: the service.
        read_log: returns the deployment's log so far (may raise while there is none).
        started: when the deployment began (``time.monotonic()``); default: now.
    """

    def __init__(self, name: str, read_log: Callable[[], str], *, started: float | None = None) -> None:
        from IPython.display import display

        self.name = name
        self._read_log = read_log
        self._started = time.monotonic() if started is None else started
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._finished = False
        self._handle: Any = display(self._view(""), display_id=True)  # type: ignore[no-untyped-call]  # IPython ships no hints
        self._thread = threading.Thread(target=self._follow, name=f"mlnb-progress-{name}", daemon=True)

    def __enter__(self) -> LiveProgress:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        if not self._finished and error is not None:  # interrupted, or an error before an outcome: say where it stopped
            log = self._log()
            if isinstance(error, KeyboardInterrupt):
                phase, step = "Cancelled", f"interrupted during {phase_of(log)}"
            else:
                phase, step = "Failed", str(error).partition("\n")[0] or type(error).__name__
            self._show(ProgressView(self.name, phase, self._elapsed(), step, log=log))

    def finish(self, phase: str, step: str, *, traceback: str = "") -> None:
        """Show the outcome (``"Healthy"``, ``"Failed"``) with the full log under it."""
        self._stop.set()
        self._thread.join()
        self._finished = True
        self._show(ProgressView(self.name, phase, self._elapsed(), step, log=self._log(), traceback=traceback))

    def fail(self, failure: DeploymentFailed) -> str:
        """Show a failure: its first line, its traceback in full, the log under them; return the first line."""
        first = str(failure).partition("\n")[0]
        self.finish("Failed", first, traceback=last_traceback(failure.logs) or "")
        return first

    def _follow(self) -> None:
        while not self._stop.wait(REFRESH_SECONDS):
            view = self._view(self._log())
            if not self._stop.is_set():
                self._show(view)

    def _view(self, log: str) -> ProgressView:
        return ProgressView(self.name, phase_of(log), self._elapsed(), last_step(log))

    def _show(self, view: ProgressView) -> None:
        with self._lock:
            self._handle.update(view)

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _log(self) -> str:
        try:
            return self._read_log()
        except Exception:  # a log that cannot be read yet (no record, engine busy): redrawn next time
            return ""
