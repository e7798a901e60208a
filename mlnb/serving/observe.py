"""The app's one hook for monitoring: a call when a request starts, a call when it ends.

It feeds the worker's :class:`~mlnb.serving.metrics.Metrics` and, for scoring requests,
its :class:`~mlnb.serving.collect.Collector`. ``/score`` leaves two things in the WSGI
environ for it: the request body it read (:data:`BODY_KEY`) and the time ``run()`` took
(:data:`RUN_MS_KEY`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mlnb.serving.collect import Collector, Row

if TYPE_CHECKING:
    from mlnb.serving.metrics import Metrics
    from mlnb.serving.settings import Settings

__all__ = ["BODY_KEY", "RUN_MS_KEY", "Observer"]

BODY_KEY = "mlnb.request_body"
RUN_MS_KEY = "mlnb.run_ms"
_SCORE = "/score"


class Observer:
    """Metrics and data collection for one worker.

    Args:
        metrics: The worker's metrics, or ``None`` when they are off.
        collector: The worker's collector, or ``None`` when collection is off.
    """

    def __init__(self, metrics: Metrics | None, collector: Collector | None) -> None:
        self.metrics = metrics
        self.collector = collector
        self._exiting = False

    @classmethod
    def from_settings(cls, settings: Settings, *, routes: Iterable[str], ready: threading.Event) -> Observer | None:
        """The observer the settings ask for, or ``None`` when metrics and collection are both off.

        Args:
            settings: The server settings.
            routes: The app's routes (metrics label other paths ``other``).
            ready: Set when the worker's ``init()`` has returned (for the init-time gauge).
        """
        if not settings.metrics and not settings.collect_dir:
            return None
        metrics = None
        if settings.metrics:
            from mlnb.serving.metrics import Metrics

            metrics = Metrics(routes)
            threading.Thread(target=_time_init, args=(metrics, ready, time.perf_counter()),
                             name="mlnb-init-timer", daemon=True).start()
        collector = None
        if settings.collect_dir:
            collector = Collector(settings.collect_dir, service=settings.service_name,
                                  interval_s=settings.collect_interval_s, max_rows=settings.collect_buffer,
                                  on_drop=metrics.dropped if metrics is not None else None)
        return cls(metrics, collector)

    def begin(self) -> float:
        """A request arrived; returns the start time to hand to :meth:`end`."""
        if self.metrics is not None:
            self.metrics.started()
        return time.perf_counter()

    def end(self, environ: dict[str, Any], path: str, status: int, body: bytes, request_id: str,
            started: float) -> None:
        """The response to a request is ready to be sent.

        Args:
            environ: The request's WSGI environ.
            path: The request path.
            status: The response status.
            body: The response body.
            request_id: The request id sent back to the client.
            started: What :meth:`begin` returned.
        """
        seconds = time.perf_counter() - started
        run_ms = environ.get(RUN_MS_KEY)
        if self.metrics is not None:
            self.metrics.finished(self.metrics.route_label(path), status, seconds, run_ms)
        collector = self.collector
        if collector is not None and path == _SCORE:
            method = environ["REQUEST_METHOD"]
            if method == "OPTIONS":
                return
            collector.add(Row(time.time(), request_id, method, status, seconds, run_ms,
                              environ.get(BODY_KEY), environ.get("QUERY_STRING", ""), body))
            if status == 504:
                # This worker exits shortly after a 504 without a shutdown, like a crash:
                # from now on every row is written at once, so none is lost.
                self._exiting = True
            if self._exiting:
                collector.flush()


def _time_init(metrics: Metrics, ready: threading.Event, started: float) -> None:
    ready.wait()
    metrics.init_finished(time.perf_counter() - started)
