"""Serving throughput, latency, memory and cold start: mlnb against azmlinfsrv.

Run: ``.venv/bin/python bench/serving.py`` (``--rounds 3 --duration 5`` are the defaults).

Installs each server into its own virtual environment under ``bench/.venvs/`` (once),
trains the diabetes Ridge model in each, and serves the same schema-typed entry script
(``bench/serving_score.py``) with azureml-inference-server-http (``azmlinfsrv``, the server
Azure uses) and with mlnb's runtime (run from a copy of ``mlnb/serving`` next to an empty
``mlnb/__init__.py``, as in an image), both with 2 workers. Load comes from ``wrk`` in a
separate process, keep-alive, one connection per unit of concurrency, for 1-row and 100-row
bodies at concurrency 1, 8 and 32. Each round starts each server fresh (cold start to the
first 200 from ``/score``), warms it up, runs every cell and samples memory; servers take
turns going first. The table shows medians over rounds and the ratio mlnb / azmlinfsrv.

A second table measures monitoring (docs/monitoring.md) at 1 row, concurrency 8: mlnb with
``--no-metrics``, with metrics (the default), with collection only and with both, four
servers running side by side (the collecting ones from an environment that also has
pyarrow, as an image that collects does, and writing every second), their ``wrk`` runs
interleaved round by round with a pause after each, so one server's background writing
does not land in the next one's run.
Besides req/s and latency it reports the CPU time each server used per request
(supervisor and workers, all threads). ``--monitoring-only`` runs just that table.

``--against-ref REF`` (e.g. ``main``) compares this checkout's runtime with the one at git
``REF`` instead of with azmlinfsrv: the same environment, model, cells and rounds, the
runtime at ``REF`` taken from ``git archive``; the ratio is this checkout / ``REF``.
``--mlnb-args FLAGS`` adds server flags to this checkout's mlnb only: ``--against-ref HEAD
--mlnb-args '--body-timeout-s 60'`` measures the event-loop front against the default one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENVS = BENCH / ".venvs"
WORK = BENCH / ".work" / "serving"
WORKERS = 2
PAYLOADS = ("body1", "body100")
CONCURRENCY = (1, 8, 32)
_PEER_PACKAGES = {
    "azmlinfsrv": ["azureml-inference-server-http==1.5.1", "scikit-learn", "joblib", "inference-schema[numpy-support]"],
    "mlnb": ["-r", str(REPO / "mlnb" / "serving" / "requirements.txt"), "scikit-learn", "joblib"],
}
# Collection needs pyarrow, which an image gets only when it collects (and pandas then
# imports it in every worker): those variants run from their own environment.
_PEER_PACKAGES["mlnb-collect"] = [*_PEER_PACKAGES["mlnb"], "pyarrow"]
#: mlnb's monitoring configurations: label, environment, extra server arguments (the
#: collect folder is added after --collect-dir). Collection writes every second, so most of
#: its writing falls inside the variant's own run rather than in the next variant's.
VARIANTS = (("plain", "mlnb", ["--no-metrics"]), ("metrics", "mlnb", []),
            ("collect", "mlnb-collect", ["--no-metrics", "--collect-interval", "1", "--collect-dir"]),
            ("both", "mlnb-collect", ["--collect-interval", "1", "--collect-dir"]))
#: Pause after each monitoring run: the last write of a collecting server happens here.
_SETTLE_S = 1.5
_LUA = """
local f = io.open(os.getenv("BODY_FILE"), "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "application/json"
"""


@dataclass
class Cell:
    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    errors: int = 0


@dataclass
class Peer:
    name: str
    venv: str
    runtime: Path | None = None
    args: tuple[str, ...] = ()
    cells: dict[tuple[str, int], Cell] = field(default_factory=dict)
    cold_start_s: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    pss_mb: list[float] = field(default_factory=list)


def _venv(name: str) -> Path:
    venv = VENVS / name
    marker = venv / ".installed"
    wanted = " ".join(_PEER_PACKAGES[name])
    if not marker.exists() or marker.read_text() != wanted:
        print(f"installing {name} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *_PEER_PACKAGES[name]], check=True)
        marker.write_text(wanted)
    return venv


def _prepare(name: str) -> Path:
    venv = _venv(name)
    models = WORK / name
    subprocess.run([str(venv / "bin" / "python"), str(BENCH / "serving_train.py"), str(models)], check=True)
    return models


def _runtime_copy(ref: str | None = None) -> Path:
    """``mlnb/serving`` next to an empty ``mlnb/__init__.py``, from the checkout or from git ``ref``."""
    runtime = WORK / ("runtime" if ref is None else "runtime-ref")
    shutil.rmtree(runtime, ignore_errors=True)
    (runtime / "mlnb").mkdir(parents=True)
    (runtime / "mlnb" / "__init__.py").write_text("")
    if ref is None:
        shutil.copytree(REPO / "mlnb" / "serving", runtime / "mlnb" / "serving",
                        ignore=shutil.ignore_patterns("__pycache__"))
    else:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "mlnb/serving"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(runtime)], input=archive, check=True)
    return runtime


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(name: str, models: Path, port: int, runtime: Path,
             extra: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    venv = VENVS / name
    model_dir = models / "diabetes" / "1"
    env = {**os.environ, "AZUREML_MODEL_DIR": str(model_dir), "PYTHONUNBUFFERED": "1"}
    script = str(BENCH / "serving_score.py")
    if name == "azmlinfsrv":
        return [str(venv / "bin" / "azmlinfsrv"), "--entry_script", script, "--model_dir", str(model_dir),
                "--port", str(port), "--health_port", str(_free_port()), "--worker_count", str(WORKERS)], env
    env["PYTHONPATH"] = str(runtime)
    return [str(venv / "bin" / "python"), "-m", "mlnb.serving", "--entry-script", script, "--model-dir",
            str(model_dir), "--port", str(port), "--workers", str(WORKERS), *extra], env


def _first_200(url: str, body: bytes, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"no 200 from {url} within {timeout_s}s")


def _wrk(url: str, body_file: Path, connections: int, duration: int) -> tuple[float, float, float, int]:
    lua = WORK / "post.lua"
    lua.write_text(_LUA)
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), url],
        capture_output=True, text=True, check=True, env={**os.environ, "BODY_FILE": str(body_file)},
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p50, p99, errors + (int(non_2xx.group(1)) if non_2xx else 0)


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def _memory(pid: int) -> tuple[float, float]:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    rss = pss = 0
    for proc in procs:
        info = proc.memory_full_info()
        rss += info.rss
        pss += info.pss
    return rss / 2**20, pss / 2**20


def _cpu_s(pid: int) -> float:
    """CPU seconds used so far by a server: its supervisor and workers, every thread."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(sum(proc.cpu_times()[:2]) for proc in procs)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _round(peer: Peer, models: Path, runtime: Path, duration: int) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/score"
    command, env = _command(peer.venv, models, port, peer.runtime or runtime, peer.args)
    log = open(WORK / f"{peer.name}.log", "ab")
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=WORK)
    try:
        _first_200(url, (models / "body1.json").read_bytes(), proc)
        peer.cold_start_s.append(time.perf_counter() - start)
        for payload in PAYLOADS:
            _wrk(url, models / f"{payload}.json", 8, 2)
        rss, pss = _memory(proc.pid)
        peer.rss_mb.append(rss)
        peer.pss_mb.append(pss)
        for payload in PAYLOADS:
            for connections in CONCURRENCY:
                rps, p50, p99, errors = _wrk(url, models / f"{payload}.json", connections, duration)
                cell = peer.cells.setdefault((payload, connections), Cell())
                cell.rps.append(rps)
                cell.p50_ms.append(p50)
                cell.p99_ms.append(p99)
                cell.errors += errors
                print(f"  {peer.name:<10} {payload:<7} c={connections:<2} {rps:>9.0f} req/s  p50 {p50:.3f} ms  "
                      f"p99 {p99:.3f} ms  errors {errors}", flush=True)
    finally:
        _stop(proc)
        log.close()


def _table(azml: Peer, mlnb: Peer) -> str:
    med = statistics.median
    base, new = f"{azml.name} req/s", f"{mlnb.name} req/s"
    lines = [
        f"{'payload':<8} {'conc':>4} | {base:>16} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | "
        f"{new:>10} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} | {'ratio':>5}",
        "-" * 104,
    ]
    for payload in PAYLOADS:
        for connections in CONCURRENCY:
            a, m = azml.cells[(payload, connections)], mlnb.cells[(payload, connections)]
            label = "1 row" if payload == "body1" else "100 rows"
            lines.append(
                f"{label:<8} {connections:>4} | {med(a.rps):>16.0f} {med(a.p50_ms):>7.3f} {med(a.p99_ms):>7.3f} "
                f"{a.errors:>4} | {med(m.rps):>10.0f} {med(m.p50_ms):>7.3f} {med(m.p99_ms):>7.3f} {m.errors:>4} | "
                f"{med(m.rps) / med(a.rps):>5.2f}")
    lines.append("-" * 104)
    for label, attr, unit in (("RSS after warm-up (sum of processes)", "rss_mb", "MiB"),
                              ("PSS after warm-up (shared pages split)", "pss_mb", "MiB"),
                              ("cold start to first 200", "cold_start_s", "s")):
        a, m = med(getattr(azml, attr)), med(getattr(mlnb, attr))
        lines.append(f"{label:<40} {azml.name} {a:>8.2f} {unit:<3}  {mlnb.name} {m:>8.2f} {unit:<3}  ratio {m / a:.2f}")
    return "\n".join(lines)


def _monitoring(models: Path, runtime: Path, rounds: int, duration: int) -> str:
    """mlnb with and without metrics and collection, side by side, at 1 row and concurrency 8."""
    body = models / "body1.json"
    cells = {label: Cell() for label, _, _ in VARIANTS}
    procs: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    log = open(WORK / "monitoring.log", "ab")
    try:
        for label, venv, extra in VARIANTS:
            _venv(venv)
            args = list(extra)
            if args and args[-1] == "--collect-dir":
                folder = WORK / "collect" / label
                shutil.rmtree(folder, ignore_errors=True)
                args.append(str(folder))
            port = _free_port()
            command, env = _command(venv, models, port, runtime, tuple(args))
            proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=WORK)
            url = f"http://127.0.0.1:{port}/score"
            procs[label] = proc, url
            _first_200(url, body.read_bytes(), proc)
            _wrk(url, body, 8, 2)
        labels = [label for label, _, _ in VARIANTS]
        for index in range(rounds):
            order = labels[index % len(labels):] + labels[:index % len(labels)]
            for label in order:
                proc, url = procs[label]
                cpu = _cpu_s(proc.pid)
                rps, p50, p99, errors = _wrk(url, body, 8, duration)
                time.sleep(_SETTLE_S)  # the run's last write happens here, and counts
                cpu_us = (_cpu_s(proc.pid) - cpu) / (rps * duration) * 1e6
                cell = cells[label]
                cell.rps.append(rps)
                cell.p50_ms.append(p50)
                cell.p99_ms.append(p99)
                cell.cpu_us.append(cpu_us)
                cell.errors += errors
                print(f"  mlnb {label:<8} body1   c=8  {rps:>9.0f} req/s  p50 {p50:.3f} ms  p99 {p99:.3f} ms  "
                      f"server CPU {cpu_us:.0f} us/request  errors {errors}", flush=True)
    finally:
        for proc, _ in procs.values():
            _stop(proc)
        log.close()
    med = statistics.median
    base = cells["plain"]
    lines = [f"{'mlnb, 1 row, c=8':<18} | {'req/s':>7} {'vs plain':>8} | {'p50 ms':>7} {'+p50 ms':>8} | "
             f"{'p99 ms':>7} {'err':>4} | {'CPU us/req':>10} {'vs plain':>8}", "-" * 96]
    for label, _, _ in VARIANTS:
        cell = cells[label]
        lines.append(f"{label:<18} | {med(cell.rps):>7.0f} {med(cell.rps) / med(base.rps) - 1:>+8.1%} | "
                     f"{med(cell.p50_ms):>7.3f} {med(cell.p50_ms) - med(base.p50_ms):>+8.3f} | "
                     f"{med(cell.p99_ms):>7.3f} {cell.errors:>4} | "
                     f"{med(cell.cpu_us):>10.0f} {med(cell.cpu_us) / med(base.cpu_us) - 1:>+8.1%}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk cell")
    parser.add_argument("--monitoring-only", action="store_true", help="only the monitoring table")
    parser.add_argument("--against-ref", metavar="REF", help="compare with mlnb's runtime at git REF, not azmlinfsrv")
    parser.add_argument("--mlnb-args", default="", metavar="FLAGS",
                        help="extra server flags for this checkout's mlnb, e.g. '--body-timeout-s 60' (the event-loop front)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    WORK.mkdir(parents=True, exist_ok=True)
    if args.monitoring_only:
        runtime = _runtime_copy()
        table = _monitoring(_prepare("mlnb"), runtime, args.rounds, args.duration)
        print(f"\n{WORKERS} workers each, wrk -t1 keep-alive, medians of {args.rounds} rounds x {args.duration:g} s\n")
        print(table)
        return
    runtime = _runtime_copy()
    if args.against_ref:
        mlnb_models = _prepare("mlnb")
        baseline = Peer(f"mlnb@{args.against_ref}", "mlnb", _runtime_copy(args.against_ref))
        models = {baseline.name: mlnb_models, "mlnb": mlnb_models}
    else:
        baseline = Peer("azmlinfsrv", "azmlinfsrv")
        models = {name: _prepare(name) for name in ("azmlinfsrv", "mlnb")}
    peers = {baseline.name: baseline, "mlnb": Peer("mlnb", "mlnb", args=tuple(args.mlnb_args.split()))}
    for index in range(args.rounds):
        order = [baseline.name, "mlnb"] if index % 2 == 0 else ["mlnb", baseline.name]
        print(f"round {index + 1}/{args.rounds}", flush=True)
        for name in order:
            _round(peers[name], models[name], runtime, args.duration)
    table = _table(baseline, peers["mlnb"])
    if args.against_ref:
        print(f"\n{WORKERS} workers each, wrk -t1 keep-alive, medians of {args.rounds} rounds x {args.duration:g} s\n")
        print(table)
        return
    monitoring = _monitoring(models["mlnb"], runtime, args.rounds, args.duration)
    print(f"\n{WORKERS} workers each, wrk -t1 keep-alive, medians of {args.rounds} rounds x {args.duration:g} s\n")
    print(table)
    print()
    print(monitoring)
    (WORK / "results.json").write_text(json.dumps({name: peer.__dict__ | {"cells": {f"{k[0]}/c{k[1]}": v.__dict__
                                                   for k, v in peer.cells.items()}} for name, peer in peers.items()},
                                                  indent=2))


if __name__ == "__main__":
    main()
