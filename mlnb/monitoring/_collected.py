"""Reading the data a service collected (``--collect-dir``) into pandas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mlnb.errors import CollectedDataNotFound, InvalidConfiguration

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["expand_inputs", "read_collected"]

#: The columns of :func:`read_collected`, in order.
COLUMNS = ("time", "service", "request_id", "method", "status", "latency_ms", "run_ms", "inputs", "outputs", "collector")
_DROPPED_KEY = b"mlnb.dropped"


def _since_utc(since: dt.datetime | dt.date | str | dt.timedelta) -> dt.datetime:
    if isinstance(since, dt.timedelta):
        return dt.datetime.now(dt.timezone.utc) - since
    if isinstance(since, str):
        try:
            since = dt.datetime.fromisoformat(since)
        except ValueError:
            raise InvalidConfiguration(f"since={since!r} is not an ISO date or time; "
                                       "pass e.g. '2024-05-01' or '2024-05-01T10:00'.") from None
    if not isinstance(since, dt.datetime):
        since = dt.datetime.combine(since, dt.time())
    # A naive time is the notebook's local time, as datetime.now() gives it.
    return since.astimezone(dt.timezone.utc)


def read_collected(folder: str | Path, *, service: str | None = None,
                   since: dt.datetime | dt.date | str | dt.timedelta | None = None) -> pd.DataFrame:
    """Read collected requests into a DataFrame, oldest first.

    Args:
        folder: The collection folder (the server's ``--collect-dir``).
        service: Only this service's requests (its ``service=`` folder); all services by default.
        since: Only requests from this time on: a ``datetime`` or ``date`` (naive ones are
            local time), an ISO string (``"2024-05-01T10:00"``), or a ``timedelta`` back
            from now (``timedelta(hours=1)``).

    Returns:
        One row per request with the columns ``time`` (UTC), ``service``, ``request_id``,
        ``method``, ``status``, ``latency_ms``, ``run_ms`` (missing when ``run()`` was not
        called), ``inputs`` and ``outputs`` (JSON text), and ``collector``: missing for the
        server's own rows, ``<model>/<designation>`` for an entry script's
        ``ModelDataCollector.collect()`` calls. ``frame.attrs["dropped"]`` counts
        the requests the service left out because its buffer was full, in the files read.

    Raises:
        CollectedDataNotFound: ``folder`` does not exist.
        InvalidConfiguration: ``since`` is a string that is not an ISO date or time.

    Example::

        frame = read_collected(".mlnb/collected", service="diabetes", since=timedelta(hours=1))
        features = expand_inputs(frame)
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    root = Path(folder)
    if not root.is_dir():
        raise CollectedDataNotFound(f"No collected data in {str(root)!r}: serve with --collect-dir "
                                    f"{str(root)!r} (or MLNB_COLLECT_DIR) to collect it.")
    partitioning = ds.partitioning(pa.schema([("service", pa.string()), ("date", pa.string())]), flavor="hive")
    # The whole schema, so files written before a column existed read it as nulls.
    fields: list[pa.Field[Any]] = [
        pa.field("time", pa.timestamp("us", tz="UTC")), pa.field("request_id", pa.string()),
        pa.field("method", pa.string()), pa.field("status", pa.int16()), pa.field("latency_ms", pa.float64()),
        pa.field("run_ms", pa.float64()), pa.field("inputs", pa.string()), pa.field("outputs", pa.string()),
        pa.field("collector", pa.string()), pa.field("service", pa.string()), pa.field("date", pa.string()),
    ]
    schema = pa.schema(fields)
    dataset = ds.dataset(root, format="parquet", partitioning=partitioning, schema=schema)
    partitions = None
    rows = None
    if service is not None:
        partitions = ds.field("service") == service
    if since is not None:
        start = _since_utc(since)
        by_day = ds.field("date") >= start.date().isoformat()
        partitions = by_day if partitions is None else partitions & by_day
        rows = ds.field("time") >= pa.scalar(start, type=pa.timestamp("us", tz="UTC"))
    dropped = 0
    for fragment in dataset.get_fragments(filter=partitions):
        metadata = fragment.physical_schema.metadata or {}
        dropped += int(metadata.get(_DROPPED_KEY, b"0"))
    combined = rows if partitions is None else (partitions if rows is None else partitions & rows)
    table = dataset.to_table(filter=combined)
    if table.num_rows == 0:
        frame = pd.DataFrame({name: pd.Series(dtype=_EMPTY_DTYPES.get(name, "object")) for name in COLUMNS})
    else:
        frame = table.to_pandas()[list(COLUMNS)].sort_values("time", kind="stable", ignore_index=True)
    frame.attrs["dropped"] = dropped
    return frame


_EMPTY_DTYPES = {"time": "datetime64[us, UTC]", "status": "int16", "latency_ms": "float64", "run_ms": "float64"}


def expand_inputs(frame: pd.DataFrame, *, key: str = "data", feature_names: Sequence[str] | None = None,
                  statuses: Sequence[int] | None = (200,)) -> pd.DataFrame:
    """Turn a collected frame's ``inputs`` into one row per input row, one column per feature.

    A request ``{"data": [[...], [...]]}`` becomes two rows. Rows given as objects
    (``{"data": [{"age": 50, ...}]}``) keep their keys as column names.

    Args:
        frame: What :func:`read_collected` returned.
        key: The field of the request body that holds the rows.
        feature_names: Column names for list rows; ``x0``, ``x1``, ... by default.
        statuses: Only requests answered with these statuses (``None`` for all); by default
            the successful ones, whose inputs the model accepted.

    Returns:
        The features, plus the ``time`` and ``request_id`` of the request each row came from.

    Raises:
        InvalidConfiguration: ``feature_names`` does not match the width of the rows.
    """
    import pandas as pd

    if statuses is not None:
        frame = frame[frame["status"].isin(list(statuses))]
    records: list[Any] = []
    times: list[Any] = []
    ids: list[str] = []
    for text, time, request_id in zip(frame["inputs"], frame["time"], frame["request_id"], strict=True):
        if not isinstance(text, str):
            continue
        payload = orjson.loads(text)
        value = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(value, list):
            continue
        rows = value if value and isinstance(value[0], (list, dict)) else [value]
        records.extend(rows)
        times.extend([time] * len(rows))
        ids.extend([request_id] * len(rows))
    if records and isinstance(records[0], dict):
        features = pd.DataFrame.from_records(records)
    else:
        width = max((len(row) for row in records), default=len(feature_names or ()))
        names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(width)]
        if len(names) != width:
            raise InvalidConfiguration(f"feature_names has {len(names)} names but the rows have {width} "
                                       "values; pass one name per value.")
        features = pd.DataFrame(records, columns=names)
    features.insert(0, "request_id", ids)
    features.insert(0, "time", pd.Series(times, dtype=frame["time"].dtype))
    return features
