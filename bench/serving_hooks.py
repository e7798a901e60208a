"""CPU cost of monitoring per request, in-process: what wrk on a busy machine cannot resolve.

Run: ``.venv/bin/python bench/serving_hooks.py``.

Measures with ``time.thread_time()`` (CPU time of the measuring thread only, so other jobs
on the machine barely move it): the request thread's share of the monitoring hook
(``Observer.begin`` + ``Observer.end`` for a 1-row scoring request) with metrics (in
prometheus_client's multiprocess mode, as under the supervisor), with collection and with
both; the writer thread's CPU per collected row (flushes of 20,000 rows); and, for scale,
one direct prometheus_client multiprocess update per request of the same metrics. Each
figure is the least disturbed of several rounds.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

# prometheus_client chooses its multiprocess storage when it is first imported.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="mlnb-bench-metrics-")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb.serving.collect import Collector, Row
from mlnb.serving.observe import BODY_KEY, RUN_MS_KEY, Observer
from mlnb.serving.settings import Settings

ROUTES = ("/", "/ready", "/score", "/swagger.json", "/metrics")
BODY = b'{"data": [[0.038076, 0.05068, 0.061696, 0.021872, -0.044223, -0.034821, -0.043401, -0.002592, 0.019907, -0.017646]]}'
OUTPUT = b"[206.11667]"
REQUEST_ID = "0f9a3e1c-1b2b-4c3d-9e8f-123456789abc"


REQUESTS = 20_000


def _hook_us(observer: Observer, requests: int = REQUESTS, rounds: int = 7) -> float:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/score", BODY_KEY: BODY, RUN_MS_KEY: 0.1}
    samples = []
    for _ in range(rounds):
        start = time.thread_time()
        for _ in range(requests):
            observer.end(environ, "/score", 200, OUTPUT, REQUEST_ID, observer.begin())
        samples.append((time.thread_time() - start) / requests * 1e6)
        if observer.collector is not None:
            observer.collector.flush()  # keep the buffer below its bound
    return min(samples)  # the least disturbed round


def _writer_us_per_row(folder: str, rows: int = 20_000, rounds: int = 3) -> float:
    collector = Collector(folder, service="bench", interval_s=3600, max_rows=rows)
    collector.flush()  # loads pyarrow
    samples = []
    for _ in range(rounds):
        for _ in range(rows):
            collector.add(Row(time.time(), REQUEST_ID, "POST", 200, 0.0012, 0.1, BODY, "", OUTPUT))
        start = time.thread_time()
        collector.flush()
        samples.append((time.thread_time() - start) / rows * 1e6)
    return min(samples)


def _direct_prometheus_us(requests: int = 20_000) -> float:
    from prometheus_client import Counter, Gauge, Histogram

    from mlnb.serving.metrics import BUCKETS

    counter = Counter("bench_requests", "r", ["route", "status"], registry=None).labels("/score", "200")
    latency = Histogram("bench_latency", "l", ["route"], buckets=BUCKETS, registry=None).labels("/score")
    run = Histogram("bench_run", "r", buckets=BUCKETS, registry=None)
    in_flight = Gauge("bench_in_flight", "i", multiprocess_mode="livesum", registry=None)
    start = time.thread_time()
    for _ in range(requests):
        in_flight.inc()
        in_flight.dec()
        counter.inc()
        latency.observe(0.0012)
        run.observe(0.0001)
    return (time.thread_time() - start) / requests * 1e6


def main() -> None:
    ready = threading.Event()
    ready.set()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for label, metrics, collect in (("metrics", True, False), ("collect", False, True), ("both", True, True)):
            settings = Settings(entry_script="score.py", app_root=folder, metrics=metrics,
                                collect_dir=os.path.join(folder, label) if collect else None,
                                collect_buffer=REQUESTS)  # no drops: they cost more than rows
            observer = Observer.from_settings(settings, routes=ROUTES, ready=ready)
            assert observer is not None
            results.append((f"hook on the request thread, {label}", _hook_us(observer)))
        results.append(("collection writer, per row (its own thread)", _writer_us_per_row(os.path.join(folder, "w"))))
    results.append(("for scale: prometheus_client updated directly", _direct_prometheus_us()))
    for label, value in results:
        print(f"{label:<48} {value:6.2f} us CPU per request")
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"])


if __name__ == "__main__":
    main()
