"""Data collection: each scoring request's inputs, outputs and outcome, written to Parquet.

A request thread only appends a tuple to a bounded in-memory buffer; when the buffer is
full the request is counted as dropped instead, so collection never slows a request.
A writer thread in each worker empties the buffer every ``interval_s`` seconds and at
shutdown into one complete Parquet file per day present in the batch::

    DIR/service=<name>/date=YYYY-MM-DD/part-<pid>-<seq>.parquet

Files are written under a hidden temporary name and linked into place, so a reader never
sees half a file and no file is ever replaced, and a worker killed outright loses at most
the rows of its current interval. Each
file's key-value metadata holds ``mlnb.dropped``: the rows this worker dropped since its
previous file. pyarrow is imported only when collection is on, by the writer thread.

An entry script's ``azureml.monitoring.ModelDataCollector`` writes into the same files
through :func:`process_collector` (rows whose ``collector`` column names it).
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.util import Finalize
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

import orjson

__all__ = ["COLUMNS", "DROPPED_KEY", "Collector", "Row", "partition_name", "process_collector", "pyarrow_missing"]

#: Key of the per-file metadata entry that counts the rows dropped before the file.
DROPPED_KEY = b"mlnb.dropped"
#: The Parquet columns (besides the ``service`` and ``date`` partition keys).
COLUMNS = ("time", "request_id", "method", "status", "latency_ms", "run_ms", "inputs", "outputs", "collector")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# The writer converts rows in chunks of a fraction of a millisecond of work and sleeps
# briefly between them, so request threads waiting for the GIL get it at once rather than
# after the interpreter's 5 ms switch interval.
_CHUNK_ROWS = 32
_ARRAY_ROWS = 1024
_YIELD_S = 0.0001


class Row(NamedTuple):
    """What a request thread hands over: the raw material of one row, not yet converted."""

    end_time: float
    request_id: str
    method: str
    status: int
    latency_s: float
    run_ms: float | None
    body: bytes | None
    query: str
    output: bytes


#: A row already in column form (the values of :data:`COLUMNS`, ``time`` in µs since the epoch).
Record = tuple[int, str, str | None, int | None, float | None, float | None, str | None, str | None, str]


def pyarrow_missing() -> str | None:
    """Why collection cannot run here, or ``None`` when pyarrow is importable."""
    import importlib.util

    if importlib.util.find_spec("pyarrow") is None:
        return "data collection writes Parquet and needs pyarrow: pip install pyarrow"
    return None


def partition_name(service: str) -> str:
    """The ``service=`` folder value for a service name (unsafe characters become ``_``)."""
    return _UNSAFE.sub("_", service) or "_"


class Collector:
    """One worker's collection buffer and writer thread.

    Args:
        folder: The dataset root (``--collect-dir``).
        service: The service name, the ``service=`` partition.
        interval_s: Seconds between flushes.
        max_rows: Rows the buffer holds between flushes; more are dropped and counted.
        on_drop: Called with a number of rows left out: by a request thread when the buffer
            is full, by the writer when a file cannot be written (the metrics counter).
    """

    def __init__(self, folder: str, *, service: str, interval_s: float, max_rows: int,
                 on_drop: Callable[[int], None] | None = None) -> None:
        self._parquet: _Parquet | None = None
        self._root = os.path.join(os.path.abspath(folder), f"service={partition_name(service)}")
        self._interval_s = interval_s
        self._max_rows = max_rows
        self._on_drop = on_drop
        # deque.append and popleft are atomic: request threads never take a lock to add.
        self._rows: collections.deque[Row] = collections.deque()
        self._records: collections.deque[Record] = collections.deque()
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pid = os.getpid()
        # Starts at the clock so a later worker that gets the same pid cannot overwrite.
        self._seq = int(time.time() * 1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="mlnb-collect", daemon=True)
        self._thread.start()
        # multiprocessing's exit hook runs in granian's forked workers after SIGTERM (atexit
        # does not run there) and, through atexit, in any other process.
        Finalize(None, self.close, exitpriority=10)
        global _PROCESS_COLLECTOR
        _PROCESS_COLLECTOR = self

    def add(self, row: Row) -> None:
        """Buffer one request's row, or count it as dropped when the buffer is full."""
        if len(self._rows) < self._max_rows:
            self._rows.append(row)
            return
        with self._drop_lock:
            self._dropped += 1
        if self._on_drop is not None:
            self._on_drop(1)

    def add_record(self, record: Record) -> None:
        """Buffer a row from an entry script's ``ModelDataCollector``, or count it as dropped.

        It shares the request rows' buffer limit; the caller (``collect()`` in ``run()``)
        has already converted it.
        """
        if len(self._rows) + len(self._records) < self._max_rows:
            self._records.append(record)
            return
        with self._drop_lock:
            self._dropped += 1
        if self._on_drop is not None:
            self._on_drop(1)

    def flush(self) -> None:
        """Write the buffered rows now (the writer thread does this every interval)."""
        with self._flush_lock:
            # Only flush() takes rows out, under the lock, so the ones there now can all be popped.
            pop = self._rows.popleft
            rows = [pop() for _ in range(len(self._rows))]
            pop_record = self._records.popleft
            records = [pop_record() for _ in range(len(self._records))]
            with self._drop_lock:
                dropped, self._dropped = self._dropped, 0
            if not rows and not records and not dropped:
                return
            try:
                self._write(self._load(), rows, records, dropped)
            except Exception:  # a full disk must not kill the worker; say so
                lost = len(rows) + len(records)
                with self._drop_lock:
                    self._dropped += lost + dropped
                if self._on_drop is not None:
                    self._on_drop(lost)
                print(f"mlnb.serving: could not write collected data under {self._root} "
                      f"({lost} rows counted as dropped):\n{traceback.format_exc()}",
                      file=sys.stderr, flush=True)

    def close(self) -> None:
        """Stop the writer thread and write what is left."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()

    def _main(self) -> None:
        with self._flush_lock:
            self._load()
        while not self._stop.wait(self._interval_s):
            self.flush()

    def _load(self) -> _Parquet:
        # Called under the flush lock; the writer thread does it first, at start-up.
        if self._parquet is None:
            self._parquet = _Parquet()
        return self._parquet

    def _write(self, parquet: _Parquet, rows: list[Row], records: list[Record], dropped: int) -> None:
        by_day: dict[str, list[list[Any]]] = {}
        for start in range(0, len(rows), _CHUNK_ROWS):
            chunk = rows[start:start + _CHUNK_ROWS]
            day = _day(min(row.end_time - row.latency_s for row in chunk))
            if day == _day(max(row.end_time for row in chunk)):
                _extend(by_day.setdefault(day, [[] for _ in COLUMNS]), chunk)
            else:  # the chunk spans midnight: each request goes to the day it started
                for row in chunk:
                    _extend(by_day.setdefault(_day(row.end_time - row.latency_s), [[] for _ in COLUMNS]), [row])
            time.sleep(_YIELD_S)
        for record in records:
            columns = by_day.setdefault(_day(record[0] / 1_000_000), [[] for _ in COLUMNS])
            for values, value in zip(columns, record, strict=True):
                values.append(value)
        if not by_day:
            by_day[_day(time.time())] = [[] for _ in COLUMNS]
        for index, (day, columns) in enumerate(sorted(by_day.items())):
            # The drops go with the first file of the batch, so they are counted once.
            self._write_file(parquet, day, parquet.table(columns, dropped=dropped if index == 0 else 0))

    def _write_file(self, parquet: _Parquet, day: str, table: Any) -> None:
        folder = os.path.join(self._root, f"date={day}")
        os.makedirs(folder, exist_ok=True)
        self._seq += 1
        # A leading dot hides the unfinished file from pyarrow's dataset reader; the random
        # part keeps it this writer's own even where pids repeat (containers).
        temporary = os.path.join(folder, f".part-{self._pid}-{self._seq}-{os.urandom(4).hex()}.parquet.tmp")
        parquet.pq.write_table(table, temporary)
        try:
            # link() never replaces a file: servers that share the folder (a switch's old
            # and new container, whose pids may coincide) cannot overwrite each other's.
            while True:
                try:
                    os.link(temporary, os.path.join(folder, f"part-{self._pid}-{self._seq}.parquet"))
                    break
                except FileExistsError:
                    self._seq += 1
        except OSError:  # a file system without hard links
            os.replace(temporary, os.path.join(folder, f"part-{self._pid}-{self._seq}.parquet"))
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)


class _Parquet:
    """pyarrow and the file schema, loaded by the writer thread rather than at start-up.

    Importing pyarrow (and pandas, which it pulls in the first time it builds a table) takes
    most of a second. granian installs a worker's signal handlers only once the app is
    built, and a SIGTERM before that is lost, so building the app must stay quick.
    """

    def __init__(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.pq = pq
        fields: list[pa.Field[Any]] = [
            pa.field("time", pa.timestamp("us", tz="UTC")), pa.field("request_id", pa.string()),
            pa.field("method", pa.string()), pa.field("status", pa.int16()), pa.field("latency_ms", pa.float64()),
            pa.field("run_ms", pa.float64()), pa.field("inputs", pa.string()), pa.field("outputs", pa.string()),
            pa.field("collector", pa.string()),
        ]
        self.schema = pa.schema(fields)
        # Pulls pandas in now, not in the first flush while requests wait for the GIL.
        pa.table({name: [] for name in COLUMNS}, schema=self.schema)

    def table(self, columns: list[list[Any]], *, dropped: int) -> Any:
        """The columns :func:`_extend` filled, as a table with ``dropped`` in its metadata."""
        pa = self.pa
        arrays = []
        for values, field in zip(columns, self.schema, strict=True):
            chunks = []
            # Converting Python objects holds the GIL for the whole call: a slice at a time.
            for start in range(0, len(values), _ARRAY_ROWS):
                chunks.append(pa.array(values[start:start + _ARRAY_ROWS], type=field.type))
                time.sleep(_YIELD_S)
            arrays.append(pa.chunked_array(chunks, type=field.type))
        return pa.Table.from_arrays(arrays, schema=self.schema.with_metadata({DROPPED_KEY: str(dropped).encode()}))


def _extend(columns: list[list[Any]], rows: list[Row]) -> None:
    """Append ``rows`` to the file's columns, converted (in the order of :data:`COLUMNS`)."""
    ends, ids, methods, statuses, latencies, runs, bodies, queries, outputs = zip(*rows, strict=True)
    columns[0].extend(int((end - latency) * 1_000_000) for end, latency in zip(ends, latencies, strict=True))
    columns[1].extend(ids)
    columns[2].extend(methods)
    columns[3].extend(statuses)
    columns[4].extend(latency * 1000.0 for latency in latencies)
    columns[5].extend(runs)
    columns[6].extend(_as_json(body) if method != "GET" else _query_json(query)
                      for method, body, query in zip(methods, bodies, queries, strict=True))
    columns[7].extend(_as_json(output) for output in outputs)
    columns[8].extend([None] * len(rows))  # the server's own rows: no ModelDataCollector


def process_collector() -> Collector | None:
    """This worker's collector when its server collects data, else ``None``."""
    collector = _PROCESS_COLLECTOR
    return collector if collector is not None and collector._pid == os.getpid() else None


_PROCESS_COLLECTOR: Collector | None = None


def _day(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).date().isoformat()


def _as_json(raw: bytes | None) -> str | None:
    """``raw`` as JSON text: itself when it is JSON, else a JSON string of its text."""
    if raw is None:
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return orjson.dumps(raw.decode("utf-8", "replace")).decode()
    return raw.decode("utf-8")


def _query_json(query: str) -> str:
    # The same reading of query parameters as the app: JSON values when they parse.
    payload: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        try:
            payload[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            payload[key] = value
    return orjson.dumps(payload).decode()
