"""parse_metrics over text that prometheus_client itself wrote."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from mlnb.monitoring import parse_metrics


def test_samples_become_rows_with_a_column_per_label() -> None:
    registry = CollectorRegistry()
    requests = Counter("mlnb_requests", "Requests.", ["route", "status"], registry=registry)
    requests.labels("/score", "200").inc(7)
    requests.labels("/score", "500").inc(2)
    Gauge("mlnb_requests_in_flight", "In flight.", registry=registry).set(3)
    latency = Histogram("mlnb_request_duration_seconds", "Latency.", ["route"], buckets=(0.001, 0.01),
                        registry=registry)
    for seconds in (0.0005, 0.005, 0.5):
        latency.labels("/score").observe(seconds)

    frame = parse_metrics(generate_latest(registry).decode())
    assert {"metric", "type", "sample", "labels", "value", "route", "status", "le"} <= set(frame.columns)
    totals = frame[frame["sample"] == "mlnb_requests_total"]
    assert dict(zip(totals["status"], totals["value"], strict=True)) == {"200": 7.0, "500": 2.0}
    assert set(totals["metric"]) == {"mlnb_requests"} and set(totals["type"]) == {"counter"}
    buckets = frame[frame["sample"] == "mlnb_request_duration_seconds_bucket"]
    assert dict(zip(buckets["le"], buckets["value"], strict=True)) == {"0.001": 1.0, "0.01": 2.0, "+Inf": 3.0}
    assert buckets["labels"].iloc[0] == {"route": "/score", "le": "0.001"}
    gauge = frame[frame["sample"] == "mlnb_requests_in_flight"]
    assert gauge["value"].tolist() == [3.0] and gauge["route"].isna().all()


def test_empty_and_malformed_text() -> None:
    assert parse_metrics("").empty
    with pytest.raises(ValueError):
        parse_metrics("mlnb_requests_total{route= 1\n")
