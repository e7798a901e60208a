"""GET /metrics over a real server: totals across workers, keys, the switch, cleanup."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import psutil
import pytest
import requests
from conftest import Server, script, wait_ready

from mlnb.monitoring import parse_metrics
from mlnb.serving.metrics import SYNC_S
from mlnb.serving.settings import parse_settings


def scrape(server: Server, **kwargs: object) -> pd.DataFrame:
    response = requests.get(f"{server.url}/metrics", timeout=10, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse_metrics(response.text)


def requests_by_status(frame: pd.DataFrame, route: str = "/score") -> dict[int, int]:
    rows = frame[(frame["sample"] == "mlnb_requests_total") & (frame["route"] == route)]
    return {int(status): int(value) for status, value in zip(rows["status"], rows["value"], strict=True)}


def sample(frame: pd.DataFrame, name: str, **labels: str) -> float:
    rows = frame[frame["sample"] == name]
    for label, value in labels.items():
        rows = rows[rows[label] == value]
    assert len(rows) == 1, (name, labels, rows)
    return float(rows["value"].iloc[0])


def settled(server: Server, expected: dict[int, int]) -> pd.DataFrame:
    """Scrape until the other workers' last counts have been synced (at most a few SYNC_S)."""
    deadline = time.monotonic() + 10 * SYNC_S
    while True:
        frame = scrape(server)
        if requests_by_status(frame) == expected or time.monotonic() > deadline:
            return frame
        time.sleep(SYNC_S / 4)


def in_flight_when_quiet(server: Server) -> float:
    """The in-flight gauge once every worker has synced since the last request."""
    time.sleep(2 * SYNC_S)
    return sample(scrape(server), "mlnb_requests_in_flight")


def worker_pids(server: Server) -> set[int]:
    return {child.pid for child in psutil.Process(server.proc.pid).children()}


def test_totals_add_up_across_two_workers(launch: object) -> None:
    server: Server = launch(["--entry-script", script("raw.py"), "--workers", "2"])  # type: ignore[operator]
    bodies = [b'{"action": "pid"}'] * 120 + [b'{"action": "fail"}'] * 50 + [b"\xff\xfe"] * 30

    def send(body: bytes) -> tuple[int, int | None]:
        # A new connection per request, so the kernel spreads them over both workers.
        response = requests.post(server.score_url, data=body, timeout=30)
        pid = response.json()["pid"] if response.status_code == 200 else None
        return response.status_code, pid

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, bodies))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {200: 120, 500: 50, 400: 30}
    pids = {pid for _, pid in answers if pid is not None}
    assert len(pids) == 2, "both workers must have answered for the test to mean anything"

    frame = settled(server, dict(statuses))
    assert requests_by_status(frame) == {200: 120, 500: 50, 400: 30}
    assert sample(frame, "mlnb_request_duration_seconds_count", route="/score") == 200
    assert sample(frame, "mlnb_request_duration_seconds_bucket", route="/score", le="+Inf") == 200
    assert sample(frame, "mlnb_run_duration_seconds_count") == 170  # 400s never reach run()
    buckets = frame[(frame["sample"] == "mlnb_run_duration_seconds_bucket")]["value"].tolist()
    assert buckets == sorted(buckets) and buckets[-1] == 170  # cumulative
    assert 0 < sample(frame, "mlnb_run_duration_seconds_sum") < 170 * 1.0
    init = frame[frame["sample"] == "mlnb_init_duration_seconds"]
    assert set(map(int, init["pid"])) == pids
    assert (init["value"] > 0).all()
    assert sample(frame, "mlnb_collect_dropped_total") == 0
    # The ready probes of the fixture are counted under their own route.
    assert requests_by_status(frame, "/ready").get(200, 0) >= 1
    assert in_flight_when_quiet(server) == 1  # the scrape itself


def test_metrics_need_the_key_when_auth_is_on(launch: object, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("k-metrics\n")
    keys.chmod(0o600)
    server: Server = launch(["--entry-script", script("raw.py"), "--auth-keys-file", str(keys)])  # type: ignore[operator]
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(f"{server.url}/metrics", headers=headers, timeout=10)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "key" in response.json()["message"]
    frame = scrape(server, headers={"Authorization": "Bearer k-metrics"})
    assert "mlnb_requests_total" in set(frame["sample"])
    operation = requests.get(f"{server.url}/swagger.json", timeout=10).json()["paths"]["/metrics"]["get"]
    assert operation["security"] == [{"Bearer": []}]
    assert set(operation["responses"]) == {"200", "401", "default"}
    assert operation["produces"] == ["text/plain"]
    openapi = requests.get(f"{server.url}/swagger.json?version=3", timeout=10).json()
    assert "text/plain" in openapi["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_metrics_can_be_switched_off(launch: object, how: str, tmp_path: Path) -> None:
    args = ["--entry-script", script("raw.py")] + (["--no-metrics"] if how == "flag" else [])
    env = {"TMPDIR": str(tmp_path)} | ({"MLNB_METRICS": "0"} if how == "env" else {})
    server: Server = launch(args, env=env)  # type: ignore[operator]
    response = requests.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 404
    assert response.json()["message"].endswith("routes are /, /ready, /score and /swagger.json.")
    assert "/metrics" not in requests.get(f"{server.url}/swagger.json", timeout=10).json()["paths"]
    assert len(list(tmp_path.glob("mlnb-serving-*"))) == 1
    assert not list(tmp_path.glob("mlnb-serving-*/metrics"))


def test_a_replaced_worker_keeps_its_counts_but_not_its_gauges(launch: object) -> None:
    server: Server = launch(["--entry-script", script("raw.py"), "--workers", "1"])  # type: ignore[operator]
    first = requests.post(server.score_url, json={"action": "pid"}, timeout=10).json()["pid"]
    for _ in range(4):
        assert requests.post(server.score_url, data="x", timeout=10).status_code == 200
    time.sleep(2 * SYNC_S)  # the dying worker's counts reach the shared files first
    with pytest.raises(requests.ConnectionError):
        requests.post(server.score_url, json={"action": "exit"}, timeout=10)
    deadline = time.monotonic() + 60
    second = None
    while second is None and time.monotonic() < deadline:
        try:
            second = requests.post(server.score_url, json={"action": "pid"}, timeout=10).json()["pid"]
        except requests.ConnectionError:
            time.sleep(0.1)
    assert second is not None and second != first
    frame = settled(server, {200: 6})
    assert requests_by_status(frame) == {200: 6}  # 5 from the dead worker, 1 from the new one
    init = frame[frame["sample"] == "mlnb_init_duration_seconds"]
    assert list(map(int, init["pid"])) == [second]
    assert in_flight_when_quiet(server) == 1


def test_a_worker_stopped_by_sigterm_keeps_its_last_counts(launch: object) -> None:
    server: Server = launch(["--entry-script", script("raw.py"), "--workers", "1"])  # type: ignore[operator]
    (worker,) = worker_pids(server)
    time.sleep(SYNC_S)  # the fixture's ready probes are synced; what follows is not yet
    for _ in range(5):
        assert requests.post(server.score_url, data="x", timeout=10).status_code == 200
    os.kill(worker, signal.SIGTERM)
    psutil.Process(worker).wait(30)
    wait_ready(server)
    assert requests_by_status(settled(server, {200: 5})) == {200: 5}


def test_the_metrics_folder_is_the_servers_own_and_goes_at_shutdown(launch: object, tmp_path: Path) -> None:
    server: Server = launch(["--entry-script", script("raw.py"), "--workers", "2"],  # type: ignore[operator]
                            env={"TMPDIR": str(tmp_path)})
    folders = list(tmp_path.glob("mlnb-serving-*/metrics"))
    assert len(folders) == 1
    # A worker writes its files on its first count, and the ready probes may all have reached one worker.
    owners = {int(path.stem.rsplit("_", 1)[1]) for path in folders[0].glob("*.db")}
    assert owners and owners <= set(worker_pids(server))
    assert server.stop() == 0
    assert not folders[0].exists()


def test_metrics_settings() -> None:
    assert parse_settings(["--entry-script", "s.py"], {}).metrics is True
    assert parse_settings(["--entry-script", "s.py", "--no-metrics"], {}).metrics is False
    assert parse_settings(["--entry-script", "s.py"], {"MLNB_METRICS": "off"}).metrics is False
    assert parse_settings(["--entry-script", "s.py", "--metrics"], {"MLNB_METRICS": "0"}).metrics is True
    with pytest.raises(SystemExit):
        parse_settings(["--entry-script", "s.py"], {"MLNB_METRICS": "maybe"})


def test_in_process_app_counts_its_own_requests(tmp_path: Path) -> None:
    """Without the supervisor's folder the app still serves its own process's metrics."""
    import io

    from mlnb.serving.app import ScoringApp
    from mlnb.serving.entry_script import load_entry_script
    from mlnb.serving.scorer import Scorer

    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    settings = parse_settings(["--entry-script", script("raw.py")], {})
    scorer = Scorer(lambda: load_entry_script(settings.entry_script), on_ready=lambda: None,
                    on_init_failed=lambda trace: pytest.fail(trace))
    scorer.start()
    assert scorer.ready.wait(30)
    app = ScoringApp(settings, scorer)

    def call(path: str, body: bytes = b"") -> bytes:
        environ = {"REQUEST_METHOD": "POST" if body else "GET", "PATH_INFO": path, "QUERY_STRING": "",
                   "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)}
        return b"".join(app(environ, lambda status, headers: None))

    for _ in range(3):
        call("/score", b"hello")
    frame = parse_metrics(call("/metrics").decode())
    assert requests_by_status(frame) == {200: 3}
