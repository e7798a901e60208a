"""Throughput of a Swarm service with 1, 2 and 3 replicas, measured from the overlay network.

Run: ``MLNB_BASE_IMAGE=mlnb-base:bookworm .venv/bin/python bench/scale.py`` (a swarm is
initialised for the run when the engine is in none, and left at the end).

The service runs an entry script that burns ``--burn-ms`` of CPU per request (default
20 ms) and answers with its hostname, as a Swarm service with ``endpoint_mode="dnsrr"`` on
an attachable overlay network (this machine has no routing mesh). For each replica count
the service is scaled, and once every replica is healthy a client container on the same
network (the base image's Python, ``tests/docker/swarm_client.py``: closed-loop threads,
each request resolving ``tasks.<service>`` and picking one address) runs for
``--seconds`` seconds or ``--requests`` requests, whichever comes first. It prints
requests/s, p50/p99 latency and how many replicas answered.

Everything stays on the overlay network of this machine. Throughput grows with replicas
only while there are free cores: on two cores, shared with the client container and the
engine, expect little gain past one replica.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.deploy.backends import get_backend
from mlnb.deploy.backends._swarm import SwarmBackend, ensure_swarm
from mlnb.image import connect

CLIENT = (Path(__file__).resolve().parents[1] / "tests" / "docker" / "swarm_client.py").read_text()
SCORE = """\
import socket
import time

BURN_S = {burn_s!r}


def init():
    pass


def run(raw_data):
    end = time.process_time() + BURN_S
    while time.process_time() < end:
        pass
    return {{"replica": socket.gethostname(), "version": "bench"}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", default="1,2,3", help="replica counts to measure (default 1,2,3)")
    parser.add_argument("--seconds", type=float, default=15.0, help="load per replica count, at most (default 15)")
    parser.add_argument("--requests", type=int, default=5000, help="requests per replica count, at most (default 5000)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--burn-ms", type=float, default=20.0, help="CPU time per request (default 20 ms)")
    args = parser.parse_args()
    counts = [int(n) for n in args.replicas.split(",")]
    client = connect()
    initialised = client.info()["Swarm"]["LocalNodeState"] != "active"
    ensure_swarm(client, init=True)
    network = "mlnb-bench-scale"
    base_image = os.environ.get("MLNB_BASE_IMAGE", "python:3.11-slim")
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="mlnb-bench-scale-") as tmp:
            folder = Path(tmp)
            ws = Workspace.create(folder)
            (folder / "weights.txt").write_text("none")
            model = Model.register(ws, folder / "weights.txt", "bench-scale")
            (folder / "src").mkdir()
            (folder / "src" / "score.py").write_text(SCORE.format(burn_s=args.burn_ms / 1000))
            config = InferenceConfig("score.py", source_directory=folder / "src", environment=Environment("empty"))
            deployment = LocalWebservice.deploy_configuration(
                backend="swarm", endpoint_mode="dnsrr", network=network, auth_enabled=False, replicas=counts[0], workers=1
            )
            service = Model.deploy(ws, "benchscale", [model], config, deployment)
            backend = get_backend("swarm")
            assert isinstance(backend, SwarmBackend)
            try:
                service.wait_for_deployment(timeout_sec=900)
                for count in counts:
                    service.scale(count)
                    while backend.running_replicas(service._record) != count:
                        time.sleep(0.5)
                    rows.append((count, *_measure(client, base_image, network, service._record.runtime["service"], args)))
            finally:
                image = service._record.runtime["image"]
                service.delete()
                for found in client.images.list(name=image.split(":")[0]):
                    for tag in found.tags:
                        client.images.remove(tag, force=True)
    finally:
        for found in client.networks.list(names=[network]):
            found.remove()
        if initialised:
            client.swarm.leave(force=True)
    print(f"\nburn {args.burn_ms:g} ms CPU per request, {args.concurrency} client threads, {os.cpu_count()} cores")
    print(f"{'replicas':>8} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'answered by':>12}")
    for count, requests, rate, p50, p99, errors, answered in rows:
        print(f"{count:>8} {requests:>9} {rate:>8.1f} {p50:>8.1f} {p99:>8.1f} {errors:>7} {answered:>12}")


def _measure(client: object, image: str, network: str, service: str, args: argparse.Namespace) -> tuple[int, float, float, float, int, int]:
    command = ["python3", "-c", CLIENT, f"tasks.{service}", "5001", str(args.seconds), str(args.requests), str(args.concurrency)]
    container = client.containers.run(image, command, network=network, detach=True)  # type: ignore[attr-defined]
    try:
        container.wait(timeout=args.seconds + 120)
        report = json.loads(container.logs(stdout=True, stderr=False))
    finally:
        container.remove(force=True)
    results = report["results"]
    latencies = sorted(r["ms"] for r in results if r["status"] == 200)
    ok = len(latencies)
    p99 = latencies[min(ok - 1, int(0.99 * ok))] if ok else float("nan")
    return (
        len(results),
        ok / report["seconds"],
        statistics.median(latencies) if ok else float("nan"),
        p99,
        len(results) - ok,
        len({r.get("replica") for r in results if r["status"] == 200}),
    )


if __name__ == "__main__":
    main()
