"""The monitor panel against a real service: the figures it shows after real requests."""

from __future__ import annotations

import math
import time

import pytest
import requests

from mlnb import InferenceConfig, LocalWebservice, Model
from mlnb.widgets import MonitorPanel
from mlnb.widgets._rates import quantile


@pytest.fixture()
def keyed(project):
    workspace, model, source = project
    service = Model.deploy(
        workspace, "monitored", [model], InferenceConfig("score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process", auth_enabled=True),
    )
    service.wait_for_deployment(timeout_sec=60)
    return service


def send(service, body, count):
    headers = {"Authorization": f"Bearer {service.get_keys()[0]}"}
    with requests.Session() as session:
        return [session.post(service.scoring_uri, json=body, headers=headers, timeout=10).status_code for _ in range(count)]


def test_the_panel_shows_the_requests_errors_and_latency_sent(keyed, seed_payload):
    # An hour between scrapes: the test takes them itself, around the traffic it sends.
    panel = MonitorPanel(keyed.workspace, service="monitored", interval_s=3600)
    try:
        assert panel.rates is None and "measuring" in panel._figures.value
        panel.sample()
        started = time.monotonic()
        assert send(keyed, seed_payload, 20) == [200] * 20
        assert send(keyed, {"data": "not a matrix"}, 5) == [400] * 5
        elapsed = time.monotonic() - started
        panel.sample()
        figures = panel.rates
        assert (figures.requests, figures.errors) == (25, 5)
        # The interval between the two scrapes holds the traffic, and a little more.
        assert 25 / (elapsed + 5) < figures.requests_per_s <= 25 / elapsed * 1.01
        assert 0 < figures.p50_ms <= figures.p99_ms < 1000
        shown = panel._figures.value
        assert f"{figures.requests_per_s:.1f}" in shown and "5 (20.0 %)" in shown
        assert f"{figures.p50_ms:.2f} ms" in shown and f"{figures.p99_ms:.2f} ms" in shown
    finally:
        panel.close()


def test_the_thread_scrapes_by_itself_and_reports_a_stopped_service(keyed, seed_payload, wait_until):
    panel = MonitorPanel(keyed.workspace, service="monitored", interval_s=0.5)
    try:
        wait_until(lambda: send(keyed, seed_payload, 5) and panel.rates is not None and panel.rates.requests > 0,
                   timeout=30, what="figures from the background thread")
        keyed.delete()
        wait_until(lambda: "mlnb-error" in panel._status.value, timeout=30, what="the error line")
    finally:
        panel.close()


def test_quantiles_interpolate_inside_their_bucket():
    buckets = {0.001: 50.0, 0.002: 90.0, 0.005: 100.0, math.inf: 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.001)
    assert quantile(0.7, buckets) == pytest.approx(0.0015)
    assert quantile(0.99, buckets) == pytest.approx(0.0047)
    assert quantile(0.5, {0.001: 0.0, math.inf: 0.0}) is None
    assert quantile(0.99, {0.001: 0.0, math.inf: 10.0}) == 0.001  # in +Inf: the largest finite bound
