"""``LogView``: a service's logs, live, without freezing the kernel or the browser."""

from __future__ import annotations

import html
import re
import threading
import time
from collections import deque
from typing import Any

import ipywidgets as widgets

from mlnb.deploy import Webservice
from mlnb.registry import Workspace
from mlnb.widgets._background import Pump, error_html
from mlnb.widgets._style import bar, panel, stylesheet

# How long to wait before reopening a log stream that ended while the service was still
# coming up: Docker's stream ends during the image build, before the container exists.
_REOPEN_SECONDS = 0.5
# Terminal escape sequences (pip's coloured warnings, progress bars): shown raw in HTML, so dropped.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")


class LogView(widgets.VBox):
    """Follows a service's logs as they come.

    Lines go into a bounded history (the oldest drop out first); one pump thread renders
    the newest ``shown_lines`` of it a few times a second, however fast lines arrive.
    Untoggling *Follow* freezes the view so it can be read while lines keep arriving.

    Args:
        workspace: the workspace whose services the view follows.
        service: a service name to follow at once.
        max_lines: how many lines the history keeps.
        shown_lines: how many of the newest lines the view shows.
        interval: seconds between renders during a burst.
        height: the view's height (CSS).

    Example:
        >>> view = LogView(ws, service="myservice")
        >>> view.lines[-1]
    """

    def __init__(
        self,
        workspace: Workspace,
        *,
        service: str | None = None,
        max_lines: int = 10_000,
        shown_lines: int = 500,
        interval: float = 0.25,
        height: str = "320px",
    ) -> None:
        self.workspace = workspace
        self.shown_lines = shown_lines
        self._history: deque[str] = deque(maxlen=max_lines)
        self._lock = threading.Lock()
        # Bumped on every follow()/stop(): a reader thread of an older generation exits at its next line.
        self._generation = 0
        self._service: str | None = None
        self._height = height
        self._text = widgets.HTML(self._box(""), layout=widgets.Layout(width="100%"))
        self._caption = widgets.HTML("<span class='mlnb-muted'>no service followed</span>")
        self._follow = widgets.ToggleButton(value=True, description="Follow", icon="play", tooltip="Show new lines as they come")
        self._clear = widgets.Button(description="Clear", icon="eraser", tooltip="Forget the lines shown so far")
        self._status = widgets.HTML()
        self._follow.layout.width = self._clear.layout.width = "90px"
        self._follow.observe(self._on_follow, names="value")
        self._clear.on_click(lambda _: self.clear())
        self._pump = Pump(self._render, interval=interval, name="mlnb-log-pump")
        top = bar([self._caption, self._follow, self._clear])
        super().__init__([stylesheet(), top, self._text, self._status], layout=widgets.Layout(width="100%"))
        panel(self)
        if service is not None:
            self.follow(service)

    # -- feeding -----------------------------------------------------------------------

    @property
    def lines(self) -> list[str]:
        """The history, oldest first."""
        with self._lock:
            return list(self._history)

    @property
    def text(self) -> str:
        """What the view shows now (HTML)."""
        return str(self._text.value)

    @property
    def following(self) -> bool:
        """Whether the view shows new lines as they come."""
        return bool(self._follow.value)

    def append(self, line: str) -> None:
        """Add one line; safe from any thread."""
        with self._lock:
            self._history.append(line)
        self._pump.poke()

    def extend(self, lines: list[str]) -> None:
        """Add many lines at once; safe from any thread."""
        with self._lock:
            self._history.extend(lines)
        self._pump.poke()

    def clear(self) -> None:
        """Forget the history."""
        with self._lock:
            self._history.clear()
        self._pump.poke()

    def _render(self) -> None:
        if not self._follow.value:
            return
        with self._lock:
            start = max(0, len(self._history) - self.shown_lines)
            newest = [self._history[i] for i in range(start, len(self._history))]
        self._text.value = self._box(_ANSI.sub("", "\n".join(newest)))

    def _box(self, text: str) -> str:
        # The div is the scroll container, with its own height: Jupyter's CSS would make the
        # <pre> one, scrolled to the top. column-reverse keeps the scroll at the bottom, so the
        # newest line stays in view with no JavaScript.
        return f"<div class='mlnb-log' style='height:{html.escape(self._height)}'><pre>{html.escape(text)}</pre></div>"

    def _on_follow(self, change: dict[str, Any]) -> None:
        self._follow.icon = "play" if change["new"] else "pause"
        if change["new"]:
            self._pump.poke()

    # -- following a service -----------------------------------------------------------

    @property
    def service(self) -> str | None:
        """The name of the service followed, if any."""
        return self._service

    def follow(self, service: str) -> None:
        """Show ``service``'s logs from the start and follow them, in a reader thread."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self._history.clear()
        self._service = service
        self._status.value = ""
        self._caption.value = f"<b>{html.escape(service)}</b> <span class='mlnb-muted'>logs</span>"
        self._pump.poke()
        threading.Thread(target=self._read, args=(service, generation), name=f"mlnb-log-{service}", daemon=True).start()

    def stop(self) -> None:
        """Stop following (the lines stay)."""
        with self._lock:
            self._generation += 1
        self._service = None

    def _current(self, generation: int) -> bool:
        return generation == self._generation

    def _read(self, name: str, generation: int) -> None:
        try:
            service = Webservice(self.workspace, name)
            seen = 0
            while self._current(generation):
                # A reopened stream starts again from the first line: skip what is shown.
                index = 0
                for line in service.stream_logs(follow=True):
                    if not self._current(generation):
                        return
                    index += 1
                    if index > seen:
                        self.append(line)
                        seen = index
                if service.state != "Transitioning":
                    return
                time.sleep(_REOPEN_SECONDS)
        except Exception as error:  # the status label is the only place this thread can report to
            if self._current(generation):
                self._status.value = error_html(error)

    def close(self) -> None:
        """Stop the threads and close the widgets."""
        self.stop()
        self._pump.stop()
        super().close()
