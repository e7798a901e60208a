"""read_collected and expand_inputs over files the serving runtime's collector wrote."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mlnb.errors import CollectedDataNotFound, InvalidConfiguration, MlnbError
from mlnb.monitoring import expand_inputs, read_collected
from mlnb.serving.collect import Collector, Row

NOON = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc).timestamp()
DAY = 86_400.0


def row(end: float, request_id: str, body: bytes = b'{"data": [[1, 2, 3]]}', status: int = 200) -> Row:
    return Row(end, request_id, "POST", status, 0.002, 0.5, body, "", b"[1.0]")


def write(folder: Path, service: str, rows: list[Row], *, max_rows: int = 1000) -> None:
    collector = Collector(str(folder), service=service, interval_s=3600, max_rows=max_rows)
    for item in rows:
        collector.add(item)
    collector.close()


def test_services_days_and_since(tmp_path: Path) -> None:
    write(tmp_path, "a", [row(NOON - DAY, "a-yesterday"), row(NOON, "a-noon"), row(NOON + 3600, "a-1pm")])
    write(tmp_path, "b", [row(NOON, "b-noon")])
    days = sorted(path.name for path in tmp_path.glob("service=a/date=*"))
    assert days == ["date=2024-04-30", "date=2024-05-01"]  # one batch, split by day

    everything = read_collected(tmp_path)
    assert list(everything["request_id"]) == ["a-yesterday", "a-noon", "b-noon", "a-1pm"]  # oldest first
    assert list(everything.columns) == ["time", "service", "request_id", "method", "status", "latency_ms",
                                        "run_ms", "inputs", "outputs", "collector"]
    assert str(everything["time"].dtype) == "datetime64[us, UTC]"
    assert everything["latency_ms"][0] == pytest.approx(2.0) and everything["run_ms"][0] == 0.5
    # The time is when the request started: its end minus its latency.
    assert everything["time"][1].timestamp() == pytest.approx(NOON - 0.002)

    assert list(read_collected(tmp_path, service="b")["request_id"]) == ["b-noon"]
    since = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    assert list(read_collected(tmp_path, service="a", since=since)["request_id"]) == ["a-1pm"]
    assert list(read_collected(tmp_path, since="2024-05-01T00:00+00:00")["request_id"]) == ["a-noon", "b-noon", "a-1pm"]
    assert list(read_collected(tmp_path, since=dt.date(2030, 1, 1))["request_id"]) == []
    recent = dt.datetime.now(dt.timezone.utc).timestamp()
    write(tmp_path, "a", [row(recent, "a-now")])
    assert list(read_collected(tmp_path, since=dt.timedelta(minutes=5))["request_id"]) == ["a-now"]
    with pytest.raises(InvalidConfiguration, match="not an ISO date"):
        read_collected(tmp_path, since="yesterday")


def test_drops_are_summed_from_the_files_read(tmp_path: Path) -> None:
    write(tmp_path, "a", [row(NOON + i, f"r{i}") for i in range(10)], max_rows=4)
    write(tmp_path, "b", [row(NOON + i, f"s{i}") for i in range(3)], max_rows=1)
    assert read_collected(tmp_path).attrs["dropped"] == 6 + 2
    frame = read_collected(tmp_path, service="a")
    assert len(frame) == 4 and frame.attrs["dropped"] == 6


def test_unfinished_files_are_ignored_and_a_missing_folder_says_what_to_do(tmp_path: Path) -> None:
    write(tmp_path, "a", [row(NOON, "r")])
    folder = next(tmp_path.glob("service=a/date=*"))
    (folder / ".part-1-2.parquet.tmp").write_bytes(b"PAR1 half a file")
    assert list(read_collected(tmp_path)["request_id"]) == ["r"]
    with pytest.raises(CollectedDataNotFound, match="--collect-dir") as raised:
        read_collected(tmp_path / "absent")
    assert isinstance(raised.value, MlnbError) and isinstance(raised.value, FileNotFoundError)
    empty = read_collected(tmp_path, service="nobody")
    assert len(empty) == 0 and empty.attrs["dropped"] == 0
    (tmp_path / "new").mkdir()
    assert list(read_collected(tmp_path / "new").columns)[:3] == ["time", "service", "request_id"]


def test_expand_inputs(tmp_path: Path) -> None:
    write(tmp_path, "a", [
        row(NOON, "two", b'{"data": [[1, 2, 3], [4, 5, 6]]}'),
        row(NOON + 1, "flat", b'{"data": [7, 8, 9]}'),
        row(NOON + 2, "failed", b'{"data": [[0, 0, 0]]}', status=500),
        row(NOON + 3, "text", b"not json"),
        row(NOON + 4, "other-key", b'{"rows": [[1, 1, 1]]}'),
    ])
    frame = read_collected(tmp_path)
    features = expand_inputs(frame)
    assert list(features.columns) == ["time", "request_id", "x0", "x1", "x2"]
    assert features[["x0", "x1", "x2"]].to_numpy().tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert list(features["request_id"]) == ["two", "two", "flat"]
    named = expand_inputs(frame, feature_names=["a", "b", "c"], statuses=None)
    assert list(named["request_id"]) == ["two", "two", "flat", "failed"]
    assert list(named.columns[2:]) == ["a", "b", "c"]
    assert expand_inputs(frame, key="rows")[["x0"]].to_numpy().tolist() == [[1]]
    with pytest.raises(InvalidConfiguration, match="feature_names has 2 names but the rows have 3"):
        expand_inputs(frame, feature_names=["a", "b"])


def test_expand_inputs_of_records(tmp_path: Path) -> None:
    write(tmp_path, "a", [row(NOON, "r", b'{"data": [{"age": 50, "bmi": 22.5}, {"age": 61, "bmi": 30.1}]}')])
    features = expand_inputs(read_collected(tmp_path))
    assert features[["age", "bmi"]].to_numpy().tolist() == [[50, 22.5], [61, 30.1]]
