"""``MonitorPanel``: a service's live requests/s, p50/p99 latency and errors, from its metrics."""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as widgets

from mlnb.deploy import Webservice
from mlnb.registry import Workspace
from mlnb.widgets._background import Ticker, error_html
from mlnb.widgets._rates import Rates, Scrape, rates
from mlnb.widgets._style import bar, panel, stylesheet, table, title

#: The shortest interval between two scrapes of a service.
MIN_INTERVAL_S = 0.5


class MonitorPanel(widgets.VBox):
    """Live figures of the selected service's ``/score``: requests/s, p50 and p99 latency in
    the app, and requests answered with an error, over the last interval.

    A background thread scrapes the service's ``GET /metrics`` (with its key when auth is
    on) once per ``interval_s``, never more often, and only while a service is selected;
    the kernel never waits for it. An unreachable service shows as one line, and the
    scraping goes on.

    Args:
        workspace: the workspace whose services to watch.
        service: the service to select at first (default: the first one).
        interval_s: seconds between scrapes (at least 0.5).

    Example:
        >>> MonitorPanel(ws, service="diabetes")
    """

    def __init__(self, workspace: Workspace, *, service: str | None = None, interval_s: float = 2.0) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._last: Scrape | None = None
        self._rates: Rates | None = None
        self._service = widgets.Dropdown(options=[], description="Service", layout=widgets.Layout(width="320px"))
        self._service.observe(self._on_service, names="value")
        self._figures = widgets.HTML()
        self._status = widgets.HTML()
        super().__init__([stylesheet(), bar([title("Monitor"), self._service]), self._figures, self._status])
        panel(self)
        self.refresh_services(select=service)
        self._draw()
        self._ticker = Ticker(self.sample, interval=max(interval_s, MIN_INTERVAL_S), on_error=self._show_error,
                              name="mlnb-monitor")

    @property
    def rates(self) -> Rates | None:
        """The figures shown, or ``None`` before two scrapes of the selected service."""
        return self._rates

    def refresh_services(self, *, select: str | None = None) -> None:
        """Read the list of services again; select ``select`` when given."""
        names = [s.name for s in Webservice.list(self.workspace)]
        keep = select if select in names else self._service.value
        self._service.options = names
        self._service.value = keep if keep in names else (names[0] if names else None)

    def sample(self) -> None:
        """Scrape the selected service once and show the figures since the previous scrape
        (the background thread calls it; it blocks for the scrape)."""
        name = self._service.value
        if not name:
            return
        metrics = Webservice(self.workspace, name).get_metrics()
        scrape = Scrape.parse(metrics, at=time.monotonic())
        with self._lock:
            if name != self._service.value:
                return  # another service was selected meanwhile
            if self._last is not None:
                self._rates = rates(self._last, scrape)
            self._last = scrape
        self._status.value = ""
        self._draw()

    def _on_service(self, change: dict[str, Any]) -> None:
        with self._lock:
            self._last, self._rates = None, None
        self._draw()

    def _draw(self) -> None:
        figures = self._rates
        if figures is None:
            waiting = "select a service" if not self._service.value else "measuring…"
            self._figures.value = f"<span class='mlnb-muted'>{html.escape(waiting)}</span>"
            return
        error_share = f" ({100.0 * figures.errors / figures.requests:.1f} %)" if figures.requests else ""
        rows = [
            ["requests/s", f"{figures.requests_per_s:.1f}"],
            ["p50", _ms(figures.p50_ms)],
            ["p99", _ms(figures.p99_ms)],
            ["errors", f"{figures.errors}{error_share}"],
        ]
        self._figures.value = table(["/score", "last interval"], rows)

    def _show_error(self, error: BaseException) -> None:
        self._status.value = error_html(error)

    def close(self) -> None:
        """Stop scraping and close the widgets."""
        self._ticker.stop()
        super().close()


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f} ms"
