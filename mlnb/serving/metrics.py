"""The service's Prometheus metrics, added up across the worker processes.

Each worker records into prometheus_client's multiprocess files in the folder named by
``PROMETHEUS_MULTIPROC_DIR`` (the supervisor sets it to a folder of its own, created empty
at start and removed at shutdown); ``GET /metrics`` in any worker reads every worker's files,
so counts and histograms add up over the whole server. Without that variable (a
:class:`~mlnb.serving.app.ScoringApp` built in-process) the numbers are this process's own.

Writing a prometheus_client value costs about a microsecond and a half (a lock, a pid
check, a write to the memory-mapped file), and a request touches seven of them. So request
threads only add to plain counters under one lock, and a thread in each worker moves the
totals into the files every :data:`SYNC_S` seconds, at exit, and before the worker answers
``/metrics``. Other workers' numbers are therefore up to that old, and a worker killed
outright loses its last second of counts.

prometheus_client picks its storage when it is first imported, so this module is imported
only by workers, after the supervisor has set the variable.
"""

from __future__ import annotations

import bisect
import glob
import os
import re
import threading
from collections.abc import Iterable
from multiprocessing.util import Finalize
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

__all__ = ["BUCKETS", "MULTIPROC_ENV", "OTHER_ROUTE", "SYNC_S", "Metrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: The ``route`` label of requests to paths that are not routes (404s), so clients cannot
#: create a time series per path.
OTHER_ROUTE = "other"
#: Latency buckets in seconds, from a fast health check (0.1 ms) to a slow model (a minute).
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
           1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds between moves of a worker's counts into the shared files.
SYNC_S = 1.0
_BOUNDS = (*BUCKETS, float("inf"))
_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db$")


class _Histogram:
    """Observations not yet moved into a prometheus_client histogram: per-bucket counts and a sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * len(_BOUNDS)
        self.total = 0.0

    def add(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BOUNDS, seconds)] += 1
        self.total += seconds

    def move_to(self, child: Any) -> None:
        # prometheus_client has no bulk observe; its histogram child keeps one value per
        # bucket (not cumulative) and the sum, which is what observe() adds to.
        for index, count in enumerate(self.counts):
            if count:
                child._buckets[index].inc(count)
        child._sum.inc(self.total)


class Metrics:
    """One worker's metrics.

    Args:
        routes: The server's routes; other paths are counted as :data:`OTHER_ROUTE`.
    """

    def __init__(self, routes: Iterable[str]) -> None:
        self._folder = os.environ.get(MULTIPROC_ENV) or None
        # Not registered anywhere global: several apps may live in one test process.
        self._registry = CollectorRegistry(auto_describe=True)
        own = None if self._folder else self._registry
        self._requests = Counter("mlnb_requests", "Requests answered, by route and status.",
                                 ["route", "status"], registry=own)
        self._latency = Histogram("mlnb_request_duration_seconds",
                                  "Time from receiving a request to its response, in the app, by route.",
                                  ["route"], buckets=BUCKETS, registry=own)
        self._run = Histogram("mlnb_run_duration_seconds", "Time spent in the entry script's run().",
                              buckets=BUCKETS, registry=own)
        self._in_flight_gauge = Gauge("mlnb_requests_in_flight", "Requests being answered now.",
                                      multiprocess_mode="livesum", registry=own)
        self._init = Gauge("mlnb_init_duration_seconds",
                           "Seconds from a worker's start to the end of init(), per live worker.",
                           multiprocess_mode="liveall", registry=own)
        self._dropped_counter = Counter("mlnb_collect_dropped",
                                        "Requests left out of data collection because its buffer was full.",
                                        registry=own)
        if self._folder:
            MultiProcessCollector(self._registry, path=self._folder)  # type: ignore[no-untyped-call]
        self._routes = frozenset(routes)
        # /score's latency series exists from the start, at zero; others on first use.
        self._latency.labels("/score")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._requests_pending: dict[tuple[str, int], int] = {}
        self._latency_pending: dict[str, _Histogram] = {}
        self._run_pending = _Histogram()
        self._dropped_pending = 0
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._main, name="mlnb-metrics", daemon=True).start()
        # multiprocessing's exit hook also runs in granian's forked workers (atexit does not).
        Finalize(None, self.close, exitpriority=10)

    def route_label(self, path: str) -> str:
        """The ``route`` label for a request path."""
        return path if path in self._routes else OTHER_ROUTE

    def started(self) -> None:
        """A request arrived."""
        with self._lock:
            self._in_flight += 1

    def finished(self, route: str, status: int, seconds: float, run_ms: float | None) -> None:
        """A request was answered.

        Args:
            route: Its :meth:`route_label`.
            status: The HTTP status sent.
            seconds: Time in the app.
            run_ms: Time in ``run()`` in milliseconds, or ``None`` when ``run()`` was not called.
        """
        key = (route, status)
        with self._lock:
            self._in_flight -= 1
            self._requests_pending[key] = self._requests_pending.get(key, 0) + 1
            latency = self._latency_pending.get(route)
            if latency is None:
                latency = self._latency_pending[route] = _Histogram()
            latency.add(seconds)
            if run_ms is not None:
                self._run_pending.add(run_ms / 1000.0)

    def init_finished(self, seconds: float) -> None:
        """This worker's ``init()`` returned, ``seconds`` after the worker started."""
        self._init.set(seconds)

    def dropped(self, rows: int) -> None:
        """Data collection left ``rows`` requests out."""
        with self._lock:
            self._dropped_pending += rows

    def sync(self) -> None:
        """Move this worker's counts into the shared files now."""
        with self._sync_lock:
            with self._lock:
                requests, self._requests_pending = self._requests_pending, {}
                latency, self._latency_pending = self._latency_pending, {}
                run, self._run_pending = self._run_pending, _Histogram()
                dropped, self._dropped_pending = self._dropped_pending, 0
                in_flight = self._in_flight
            for (route, status), count in requests.items():
                self._requests.labels(route, str(status)).inc(count)
            for route, histogram in latency.items():
                histogram.move_to(self._latency.labels(route))
            run.move_to(self._run)
            if dropped:
                self._dropped_counter.inc(dropped)
            self._in_flight_gauge.set(in_flight)

    def close(self) -> None:
        """Stop the sync thread and move what is left."""
        self._stop.set()
        self.sync()

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition and its content type."""
        self.sync()
        if self._folder:
            self._forget_dead_workers()
        return generate_latest(self._registry), CONTENT_TYPE_PLAIN_0_0_4

    def _main(self) -> None:
        while not self._stop.wait(SYNC_S):
            self.sync()

    def _forget_dead_workers(self) -> None:
        # A replaced worker's in-flight and init gauges would otherwise count forever; its
        # counters and histograms stay, since what it answered still happened.
        assert self._folder is not None
        pids = set()
        for path in glob.glob(os.path.join(self._folder, "gauge_live*.db")):
            match = _LIVE_FILE.search(os.path.basename(path))
            if match:
                pids.add(int(match.group(1)))
        for pid in pids:
            if not _alive(pid):
                mark_process_dead(pid, self._folder)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
