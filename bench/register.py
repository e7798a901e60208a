"""Registration throughput and lookup latency of the model registry.

Run: ``.venv/bin/python bench/register.py`` (add ``--quick`` to skip the 1 GB model).

Prints, for 1 MB, 100 MB and 1 GB model files: the time to register and MB/s (hashing
and copying happen in one pass), next to a plain ``shutil.copyfile`` of the same file as
the peer (the floor set by the disk); then the time of ``Model(ws, name)`` and
``Model(ws, name, version=v)`` among 10,000 registered versions. Medians of several runs.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import Model, Workspace


def _write_random(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for _ in range(size >> 20):
            handle.write(block)
            block = block[1:] + block[:1]  # different blocks, so nothing dedupes


def _median_seconds(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_register(folder: Path, sizes_mb: list[int]) -> None:
    ws = Workspace.create(folder / "project")
    print(f"{'model':>8} {'register s':>11} {'MB/s':>8} {'copyfile s':>11} {'ratio':>6}")
    for size_mb in sizes_mb:
        source = folder / f"model-{size_mb}mb.bin"
        _write_random(source, size_mb << 20)
        repeat = 5 if size_mb <= 100 else 3
        copy_target = folder / "copy.bin"
        copy_time = _median_seconds(functools.partial(shutil.copyfile, source, copy_target), repeat)
        copy_target.unlink()

        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model = Model.register(ws, source, f"m{size_mb}")
            times.append(time.perf_counter() - start)
            model.delete()  # so the next run hashes and copies again instead of deduplicating
        register_time = statistics.median(times)
        print(
            f"{size_mb:>6}MB {register_time:>11.3f} {size_mb / register_time:>8.0f} "
            f"{copy_time:>11.3f} {register_time / copy_time:>6.2f}"
        )
        source.unlink()


def bench_lookup(folder: Path, versions: int) -> None:
    ws = Workspace.create(folder / "lookup")
    source = folder / "tiny.pkl"
    source.write_bytes(b"tiny")
    start = time.perf_counter()
    with ws.write() as db:
        # Seed 10,000 versions through SQL: registering them one by one would only
        # measure registration again, and the lookup is what is timed here.
        db.executemany(
            "INSERT INTO models VALUES (?, ?, 'tiny.pkl', 0, 'x', 4, NULL, NULL, NULL, NULL, '{}', '{}', ?)",
            [("many", v, "2026-01-01T00:00:00+00:00") for v in range(1, versions)],
        )
        db.execute("INSERT INTO model_names VALUES ('many', ?)", (versions - 1,))
    Model.register(ws, source, "many")
    seed_time = time.perf_counter() - start
    latest = _median_seconds(lambda: Model(ws, "many"), 200)
    pinned = _median_seconds(lambda: Model(ws, "many", version=versions // 2), 200)
    print(f"\nlookups among {versions:,} versions (seeded in {seed_time:.1f} s), median of 200:")
    print(f"  Model(ws, name)             {latest * 1000:.2f} ms")
    print(f"  Model(ws, name, version=v)  {pinned * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 1 GB model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-", dir=os.environ.get("MLNB_BENCH_DIR")) as tmp:
        folder = Path(tmp)
        bench_register(folder, [1, 100] if args.quick else [1, 100, 1000])
        bench_lookup(folder, 10_000)


if __name__ == "__main__":
    main()
