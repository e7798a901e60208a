"""A bounded soak of one deployed service: does anything degrade or grow over time?

Run: ``.venv/bin/python bench/soak.py`` (``--minutes 5 --connections 32`` are the defaults;
``--backend docker`` with ``MLNB_BASE_IMAGE`` set soaks a container instead of a process).

The demo model is deployed with ``Model.deploy`` (2 workers, auth on) in a throw-away
workspace, then ``wrk`` (keep-alive, loopback only) sends the seed's request for
``--minutes`` one-minute slices back to back. After each slice the script records the
requests, the errors (connect/read/write errors, answers slower than 30 s, non-2xx
answers), p50 and p99, and the memory of the server's process tree (RSS and PSS; for
Docker, the container's memory from the engine). It prints one row per minute, then the first minute against the last and
the memory growth, and removes the service and the workspace.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model

_LUA = """
wrk.method = "POST"
wrk.body = os.getenv("SOAK_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("SOAK_KEY")
"""


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", value)
    assert match is not None, value
    return float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[match.group(2)]


def _slice(url: str, lua: Path, key: str, connections: int, seconds: int) -> tuple[int, int, float, float, str]:
    """One wrk run: requests, errors, p50 ms, p99 ms, and what the errors were."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(lua), url],
        capture_output=True, text=True, check=True,
        env={"SOAK_BODY": json.dumps(SEED_REQUEST), "SOAK_KEY": key, "PATH": "/usr/bin:/bin"},
    ).stdout

    def field(pattern: str) -> str:
        match = re.search(pattern, out)
        assert match is not None, f"wrk printed no {pattern!r}:\n{out}"
        return match.group(1)

    requests = int(field(r"(\d+) requests in"))
    kinds = {kind: int(n) for kind, n in re.findall(r"(connect|read|write|timeout) (\d+)", out) if int(n)}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non_2xx:
        kinds["non-2xx"] = int(non_2xx.group(1))
    what = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
    return requests, sum(kinds.values()), _ms(field(r"\s50%\s+([\d.]+\w+)")), _ms(field(r"\s99%\s+([\d.]+\w+)")), what


def _memory_mib(service: Webservice) -> tuple[float, float]:
    """RSS and PSS of the service's server and workers (Docker: the container's usage, twice)."""
    runtime = service._record.runtime
    if "pid" in runtime:
        root = psutil.Process(runtime["pid"])
        rss = pss = 0
        for process in [root, *root.children(recursive=True)]:
            info = process.memory_full_info()
            rss, pss = rss + info.rss, pss + info.pss
        return rss / 2**20, pss / 2**20
    import docker

    client = docker.from_env()
    (container,) = client.containers.list(filters={"label": [f"mlnb.service={service.name}", "mlnb.role=server"]})
    usage = container.stats(stream=False)["memory_stats"]["usage"] / 2**20
    return usage, usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=5, help="one-minute slices to run (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--backend", choices=("process", "docker"), default="process")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    folder = Path(tempfile.mkdtemp(prefix="mlnb-soak-"))
    try:
        workspace = Workspace.create(folder)
        model = Model.register(workspace, train_diabetes_model(folder / "sklearn_regression_model.pkl"), "diabetes",
                               model_framework=Model.Framework.SCIKITLEARN)
        source = folder / "src"
        source.mkdir()
        (source / "score.py").write_text(ENTRY_SCRIPT)
        config = LocalWebservice.deploy_configuration(backend=args.backend, workers=2, auth_enabled=True)
        service = Model.deploy(workspace, "soak", [model], InferenceConfig("score.py", source_directory=source), config)
        try:
            service.wait_for_deployment(timeout_sec=900)
            key, _ = service.get_keys()
            lua = folder / "post.lua"
            lua.write_text(_LUA)
            assert service.scoring_uri is not None
            print(f"soak: {args.backend} service, 2 workers, wrk -t2 -c{args.connections} keep-alive, "
                  f"{args.minutes} x 60 s", flush=True)
            print(f"{'minute':>6} {'requests':>10} {'req/s':>8} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'RSS MiB':>8} {'PSS MiB':>8}", flush=True)
            rows = []
            for minute in range(1, args.minutes + 1):
                requests, errors, p50, p99, what = _slice(service.scoring_uri, lua, key, args.connections, 60)
                rss, pss = _memory_mib(service)
                rows.append((requests, errors, p50, p99, rss, pss))
                print(f"{minute:>6} {requests:>10,} {requests / 60:>8,.0f} {errors:>7} {p50:>8.2f} {p99:>8.2f} "
                      f"{rss:>8.1f} {pss:>8.1f}  {what}", flush=True)
            first, last = rows[0], rows[-1]
            total = sum(row[0] for row in rows)
            print(f"\ntotal {total:,} requests, {sum(row[1] for row in rows)} errors; "
                  f"first vs last minute: p50 {first[2]:.2f} -> {last[2]:.2f} ms, p99 {first[3]:.2f} -> {last[3]:.2f} ms, "
                  f"req/s {first[0] / 60:,.0f} -> {last[0] / 60:,.0f}; "
                  f"memory after minute 1 -> {len(rows)}: RSS {first[4]:.1f} -> {last[4]:.1f} MiB "
                  f"({last[4] - first[4]:+.1f}), PSS {first[5]:.1f} -> {last[5]:.1f} MiB ({last[5] - first[5]:+.1f})")
        finally:
            service.delete()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
