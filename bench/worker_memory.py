"""Memory of a process deployment's server and workers (RSS and PSS, MiB).

Run: ``.venv/bin/python bench/worker_memory.py [--workers 2] [--rounds 3] [--script demo|empty]``

Deploys the bundled demo model on the process backend with the seed's entry script
(``demo``: scikit-learn, numpy, inference-schema) or with an entry script that imports
nothing (``empty``: what the server itself costs), waits for Healthy, scores it once, then reads every process of the server's tree
with psutil and prints one row per process kind (supervisor, worker): the median over the
rounds of RSS and PSS. PSS shares pages fairly between processes, so it is the figure to add
up; RSS counts shared libraries in full in every process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import InferenceConfig, LocalWebservice, Model, Workspace
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model

_MIB = 1024 * 1024
EMPTY_SCRIPT = "def init():\n    pass\n\n\ndef run(data):\n    return [1]\n"


def measure(folder: Path, workers: int, script: str) -> dict[str, list[tuple[float, float]]]:
    """Deploy once and return ``{kind: [(rss_mib, pss_mib), ...]}`` for the server's processes."""
    ws = Workspace.create(folder)
    artifact = train_diabetes_model(folder / "model" / "sklearn_regression_model.pkl")
    model = Model.register(ws, artifact, "sklearn_regression_model")
    source = folder / "src"
    source.mkdir()
    (source / "score.py").write_text(ENTRY_SCRIPT if script == "demo" else EMPTY_SCRIPT)
    service = Model.deploy(
        ws, "memory-bench", [model], InferenceConfig("score.py", source_directory=source),
        LocalWebservice.deploy_configuration(backend="process", workers=workers),
    )
    try:
        service.wait_for_deployment(timeout_sec=120)
        service.run(SEED_REQUEST)
        server = _server_process(service.port)
        found: dict[str, list[tuple[float, float]]] = {"supervisor": [], "worker": []}
        for process in [server, *server.children(recursive=True)]:
            info = process.memory_full_info()
            kind = "supervisor" if process.pid == server.pid else "worker"
            found[kind].append((info.rss / _MIB, info.pss / _MIB))
        return found
    finally:
        service.delete()


def _server_process(port: int) -> psutil.Process:
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_LISTEN and connection.pid:
            process = psutil.Process(connection.pid)
            # The listening socket may be a worker's: walk up to the server (the session leader).
            while process.parent() is not None and "mlnb.serving" in " ".join(process.parent().cmdline()):
                process = process.parent()
            return process
    raise RuntimeError(f"nothing listens on port {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--script", choices=("demo", "empty"), default="demo")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {"supervisor": [], "worker": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="mlnb-memory-") as folder:
            for kind, values in measure(Path(folder), args.workers, args.script).items():
                rows[kind].extend(values)
    print(f"process backend, {args.script} entry script, {args.workers} workers, {args.rounds} rounds (medians)")
    print(f"{'process':<12}{'count':>6}{'RSS MiB':>10}{'PSS MiB':>10}")
    for kind, values in rows.items():
        if values:
            rss = statistics.median(v[0] for v in values)
            pss = statistics.median(v[1] for v in values)
            print(f"{kind:<12}{len(values) // args.rounds:>6}{rss:>10.1f}{pss:>10.1f}")


if __name__ == "__main__":
    main()
