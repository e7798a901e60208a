"""Data collection over a real server: completeness, drops, shutdown and crashes."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import requests
from conftest import Server, script, wait_ready

from mlnb.monitoring import parse_metrics, read_collected
from mlnb.serving.settings import parse_settings


def collecting(launch: object, folder: Path, *extra: str, workers: int = 1, interval: float = 3600) -> Server:
    return launch(["--entry-script", script("raw.py"), "--workers", str(workers), "--service-name", "collect-test",  # type: ignore[operator, no-any-return]
                   "--collect-dir", str(folder), "--collect-interval", str(interval), *extra])


def post(server: Server, body: bytes | str, request_id: str | None = None) -> requests.Response:
    headers = {"x-ms-request-id": request_id} if request_id else {}
    return requests.post(server.score_url, data=body, headers=headers, timeout=30)


def worker_pid(server: Server) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            response = post(server, '{"action": "pid"}')
            if response.status_code == 200:
                return int(response.json()["pid"])
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    pytest.fail(f"no worker answered:\n{server.log()}")


def test_every_answered_request_is_collected_once(launch: object, tmp_path: Path) -> None:
    server = collecting(launch, tmp_path, workers=2, interval=0.3)
    plan = [(f"ok-{i}", json.dumps({"data": [[i, i + 0.5]]}).encode()) for i in range(200)]
    plan += [(f"fail-{i}", b'{"action": "fail"}') for i in range(60)]
    plan += [(f"bad-{i}", b"\xff\xfe") for i in range(40)]

    def send(item: tuple[str, bytes]) -> tuple[str, int]:
        return item[0], post(server, item[1], item[0]).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = dict(pool.map(send, plan))
    assert Counter(statuses.values()) == {200: 200, 500: 60, 400: 40}
    assert server.stop() == 0, server.log()

    frame = read_collected(tmp_path, service="collect-test")
    assert frame.attrs["dropped"] == 0
    assert frame["request_id"].is_unique
    assert dict(zip(frame["request_id"], frame["status"], strict=True)) == statuses
    assert len({path.name.split("-")[1] for path in tmp_path.glob("service=collect-test/date=*/part-*.parquet")}) == 2
    column = {name: dict(zip(frame["request_id"], frame[name], strict=True)) for name in ("inputs", "outputs")}
    assert json.loads(column["inputs"]["ok-7"]) == {"data": [[7, 7.5]]}
    assert json.loads(column["outputs"]["ok-7"]) == {"type": "str", "echo": '{"data": [[7, 7.5]]}'}
    assert json.loads(column["inputs"]["bad-3"]) == "\ufffd\ufffd"  # not JSON: kept as a JSON string
    assert "UTF-8" in json.loads(column["outputs"]["bad-3"])["message"]
    assert frame["run_ms"].isna().sum() == 40  # run() never ran for the 400s
    assert (frame["latency_ms"] > 0).all()
    assert set(frame["method"]) == {"POST"} and set(frame["service"]) == {"collect-test"}


def test_layout_files_and_get_inputs(launch: object, tmp_path: Path) -> None:
    server = collecting(launch, tmp_path / "data", interval=3600)
    response = requests.get(server.score_url, params={"data": "[[1, 2]]", "name": "x"}, timeout=10)
    assert response.status_code == 200
    requests.options(server.score_url, timeout=10)  # a preflight is not a scoring request
    assert server.stop() == 0, server.log()
    files = list((tmp_path / "data").rglob("*"))
    parts = [path for path in files if path.is_file()]
    assert len(parts) == 1 and not [path for path in files if path.name.startswith(".")]
    relative = parts[0].relative_to(tmp_path / "data").parts
    assert relative[0] == "service=collect-test"
    assert relative[1] == f"date={time.strftime('%Y-%m-%d', time.gmtime())}"
    assert relative[2].startswith("part-") and relative[2].endswith(".parquet")
    assert (pq.read_metadata(parts[0]).metadata or {})[b"mlnb.dropped"] == b"0"
    frame = read_collected(tmp_path / "data")
    assert list(frame["method"]) == ["GET"]
    assert json.loads(frame["inputs"][0]) == {"data": [[1, 2]], "name": "x"}


def test_a_full_buffer_drops_and_counts_but_never_fails_a_request(launch: object, tmp_path: Path) -> None:
    server = collecting(launch, tmp_path, "--collect-buffer", "5", interval=3600)
    assert all(post(server, f"r{i}").status_code == 200 for i in range(100))
    metrics = parse_metrics(requests.get(f"{server.url}/metrics", timeout=10).text)
    assert metrics.loc[metrics["sample"] == "mlnb_collect_dropped_total", "value"].tolist() == [95]
    assert server.stop() == 0, server.log()
    frame = read_collected(tmp_path)
    assert len(frame) == 5 and frame.attrs["dropped"] == 95
    assert [json.loads(text) for text in frame["outputs"]][0]["echo"] == "r0"  # the first ones are kept


def test_sigterm_flushes_a_worker_and_the_server(launch: object, tmp_path: Path) -> None:
    server = collecting(launch, tmp_path, interval=3600)  # no flush would happen on its own
    first = worker_pid(server)
    for i in range(20):
        assert post(server, f"a{i}").status_code == 200
    os.kill(first, signal.SIGTERM)  # the worker alone, as granian's supervisor does at shutdown
    psutil.Process(first).wait(30)
    assert worker_pid(server) != first
    assert list(tmp_path.glob(f"service=collect-test/date=*/part-{first}-*.parquet"))
    assert len(read_collected(tmp_path)) == 21
    for i in range(10):
        assert post(server, f"b{i}").status_code == 200
    assert server.stop() == 0, server.log()
    assert len(read_collected(tmp_path)) == 32


def _wait_on_disk(folder: Path, request_ids: list[str], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if list(folder.glob("service=*/date=*/part-*.parquet")) and set(request_ids) <= set(read_collected(folder)["request_id"]):
            return
        time.sleep(0.2)
    pytest.fail(f"the collected rows did not reach {folder} within {timeout_s:g} s")


def test_sigkill_loses_at_most_the_current_interval(launch: object, tmp_path: Path) -> None:
    server = collecting(launch, tmp_path, interval=0.5)
    victim = worker_pid(server)
    # The writer loads pyarrow first, in the background; its first file says it is running.
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(f"service=collect-test/date=*/part-{victim}-*.parquet")):
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    kept = [str(uuid.uuid4()) for _ in range(30)]
    for request_id in kept:
        assert post(server, "before", request_id).status_code == 200
    _wait_on_disk(tmp_path, kept)  # written by an interval's flush (the first one also imports pyarrow)
    at_risk = [str(uuid.uuid4()) for _ in range(30)]
    for request_id in at_risk:
        assert post(server, "during", request_id).status_code == 200
    os.kill(victim, signal.SIGKILL)
    psutil.Process(victim).wait(30)
    assert worker_pid(server) != victim
    wait_ready(server)
    assert server.stop() == 0, server.log()
    frame = read_collected(tmp_path)  # every file there is complete
    assert set(kept) <= set(frame["request_id"])
    others = frame[~frame["request_id"].isin(kept + at_risk)]
    assert set(others["inputs"]) == {'{"action": "pid"}'}  # the probes of worker_pid(), nothing else


def test_a_scoring_timeout_keeps_the_workers_rows(launch: object, tmp_path: Path, front: tuple[str, ...]) -> None:
    server = collecting(launch, tmp_path, "--timeout-ms", "1000", *front, interval=3600)
    victim = worker_pid(server)
    for i in range(3):
        assert post(server, f"t{i}").status_code == 200
    assert post(server, '{"action": "sleep", "seconds": 30}', "slow").status_code == 504
    assert worker_pid(server) != victim  # the stuck worker exited without a shutdown
    frame = read_collected(tmp_path)
    # The pid probe and t0..t2, the 504, then the 503s the worker sent while it was exiting.
    assert list(frame["status"][:5]) == [200, 200, 200, 200, 504]
    assert frame["request_id"].iloc[4] == "slow"
    assert set(frame["status"][5:]) <= {503}
    assert server.stop() == 0, server.log()


def test_collection_settings(tmp_path: Path) -> None:
    settings = parse_settings(["--entry-script", "s.py"], {"MLNB_COLLECT_DIR": str(tmp_path),
                                                           "MLNB_COLLECT_INTERVAL": "2.5", "MLNB_COLLECT_BUFFER": "7"})
    assert (settings.collect_dir, settings.collect_interval_s, settings.collect_buffer) == (str(tmp_path), 2.5, 7)
    assert parse_settings(["--entry-script", "s.py"], {}).collect_dir is None
    assert parse_settings(["--entry-script", "s.py", "--collect-dir", "data"], {}).collect_dir == os.path.abspath("data")
    for bad in (["--collect-interval", "0"], ["--collect-buffer", "0"]):
        with pytest.raises(SystemExit):
            parse_settings(["--entry-script", "s.py", "--collect-dir", str(tmp_path), *bad], {})


def test_writers_with_the_same_pid_and_sequence_never_replace_each_others_files(tmp_path: Path) -> None:
    # Two servers of one service share its folder during a switch; in two containers their
    # workers' pids can be equal. The second file takes the next sequence number instead.
    from mlnb.serving.collect import Collector, Row

    first = Collector(str(tmp_path), service="svc", interval_s=3600, max_rows=10)
    second = Collector(str(tmp_path), service="svc", interval_s=3600, max_rows=10)
    second._seq = first._seq
    for collector, request_id in ((first, "from-first"), (second, "from-second")):
        collector.add(Row(time.time(), request_id, "POST", 200, 0.001, 0.1, b"{}", "", b"[]"))
        collector.close()
    assert len(list(tmp_path.rglob("part-*.parquet"))) == 2
    assert not list(tmp_path.rglob(".part-*"))
    assert sorted(read_collected(tmp_path)["request_id"]) == ["from-first", "from-second"]
