"""Profile repeatability and budget: the demo model profiled three times with a 30 s budget.

Run: ``.venv/bin/python bench/profile.py`` (``--backend process|docker``, ``--runs 3``,
``--duration 30`` are the options).

Trains the diabetes Ridge model, registers it with the demo's entry script, and runs
``Model.profile`` with the default concurrency levels and the seed's request, ``--runs``
times. For each run it prints the recommendation, the per-level figures it rests on, and
the wall time of the whole call (deploy, warm-up, load, removal). It then checks that the
recommendations agree within 10 % of their mean and that every run finished within the
budget plus 20 %, and exits 1 when either fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from mlnb import InferenceConfig, Model, Workspace
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model

AGREEMENT = 0.10
BUDGET_SLACK = 0.20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="process", choices=("process", "docker"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="mlnb-bench-profile-") as folder:
        root = Path(folder)
        workspace = Workspace.create(root)
        model = Model.register(
            workspace, train_diabetes_model(root / "outputs" / "sklearn_regression_model.pkl"), "sklearn_regression_model"
        )
        (root / "source").mkdir()
        (root / "source" / "score.py").write_text(ENTRY_SCRIPT)
        config = InferenceConfig(entry_script="score.py", source_directory=root / "source")

        rows = []
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            profile = Model.profile(
                workspace, f"bench-profile-{run}", [model], config, [json.dumps(SEED_REQUEST)],
                duration_s=args.duration, backend=args.backend,
            )
            profile.wait_for_profiling()
            wall = time.monotonic() - started
            results, details = profile.get_results(), profile.get_details()
            rows.append((run, results, wall, details))
            levels = ", ".join(
                f"c={level['concurrency']}: {level['requests_per_s']:.0f} req/s p99 {level['p99_ms']:.1f} ms "
                f"{level['cpu_cores']:.2f} cores (client {level['client_cpu_cores']:.2f})"
                for level in details["levels"]
            )
            print(f"run {run}: {results}  wall {wall:.1f} s (deploy {details['timings']['deploy_s']:.1f} s)  {levels}", flush=True)

    print(f"\nbackend {args.backend}, budget {args.duration:g} s, concurrency {[level['concurrency'] for level in rows[0][3]['levels']]}")
    print("| run | cpu | memoryInGB | peak memory (GB) | wall (s) |")
    print("| --- | --- | --- | --- | --- |")
    for run, results, wall, details in rows:
        peak = max(level["peak_memory_gb"] for level in details["levels"])
        print(f"| {run} | {results['cpu']:.1f} | {results['memoryInGB']:.1f} | {peak:.3f} | {wall:.1f} |")

    ok = True
    for key in ("cpu", "memoryInGB"):
        values = [results[key] for _, results, _, _ in rows]
        mean = statistics.fmean(values)
        spread = max(abs(value - mean) / mean for value in values)
        verdict = "ok" if spread <= AGREEMENT else "FAIL"
        ok &= spread <= AGREEMENT
        print(f"{key}: {values}, largest deviation from the mean {spread:.1%} (limit {AGREEMENT:.0%}) {verdict}")
    limit = args.duration * (1 + BUDGET_SLACK)
    slowest = max(wall for _, _, wall, _ in rows)
    ok &= slowest <= limit
    print(f"slowest run {slowest:.1f} s (limit {limit:.1f} s) {'ok' if slowest <= limit else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
