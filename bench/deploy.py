"""Time from ``Model.deploy`` to Healthy, on the Docker and process backends.

Run: ``MLNB_BASE_IMAGE=mlnb-base:bookworm .venv/bin/python bench/deploy.py`` (the base image
must be present; see docs/development.md). ``--backend process`` skips Docker.

For the sklearn demo model and the seed's entry script it prints:

- cold: a first deploy with a dependency set the engine has never built: the wheelhouse
  is resolved from scratch and the dependency layer is built anew (the base image is
  present, pip's own download cache is not cleared). A unique, inert extra constraint
  (``threadpoolctl!=0.0.<random>``, a dependency of scikit-learn that the demo installs anyway) makes the set new;
  everything else is the demo's.
- identical redeploy: ``Model.deploy(..., overwrite=True)`` with nothing changed (the
  image of the same content exists, so nothing is built);
- script change: ``service.update(inference_config=...)`` after editing score.py;
- reload: ``service.reload()`` after editing score.py (no image build);
- the image size, and what it is made of: the base image, the wheels the service needs
  (as downloaded, compressed) and the venv they install into (uncompressed, bytecode
  included). Base image plus installed venv is the floor of any image that runs them.

Each warm figure is the median of three runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlnb import Environment, InferenceConfig, LocalWebservice, Model, Webservice, Workspace
from mlnb.config._dependencies import infer_dependencies
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model


def _timed(action: Callable[[], Webservice]) -> float:
    start = time.perf_counter()
    service = action()
    service.wait_for_deployment(timeout_sec=900)
    elapsed = time.perf_counter() - start
    service.run(SEED_REQUEST)  # Healthy means it answers
    return elapsed


def bench_backend(backend: str, folder: Path) -> dict[str, float | str]:
    ws = Workspace.create(folder / backend)
    model = Model.register(ws, train_diabetes_model(folder / backend / "model" / "sklearn_regression_model.pkl"),
                           "sklearn_regression_model", model_framework=Model.Framework.SCIKITLEARN)
    source = folder / backend / "src"
    source.mkdir(parents=True)
    (source / "score.py").write_text(ENTRY_SCRIPT)
    inferred = infer_dependencies(source, artifacts=[model.checkout()]).requirements
    fresh = Environment.from_pip_packages("bench", [*inferred, f"threadpoolctl!=0.0.{uuid.uuid4().int % 10**9}"])
    config = InferenceConfig("score.py", source_directory=source, environment=fresh)
    deployment = LocalWebservice.deploy_configuration(backend=backend)
    results: dict[str, float | str] = {}

    results["cold"] = _timed(lambda: Model.deploy(ws, "bench", [model], config, deployment, overwrite=True))
    results["identical redeploy"] = statistics.median(
        _timed(lambda: Model.deploy(ws, "bench", [model], config, deployment, overwrite=True)) for _ in range(3)
    )
    service = Webservice(ws, "bench")

    def edit() -> None:
        (source / "score.py").write_text(ENTRY_SCRIPT + f"\n# edit {uuid.uuid4().hex}\n")

    def update() -> Webservice:
        edit()
        service.update(inference_config=config)
        return service

    def reload() -> Webservice:
        edit()
        service.reload()
        return service

    results["script change (update)"] = statistics.median(_timed(update) for _ in range(3))
    results["reload"] = statistics.median(_timed(reload) for _ in range(3))
    if backend == "docker":
        results.update(_image_sizes(service, ws.cache_dir / "wheelhouse"))
    service.delete()
    return results


def _image_sizes(service: Webservice, wheelhouse_cache: Path) -> dict[str, float | str]:
    from mlnb.image import connect, resolve_base_image

    client = connect()
    image = client.images.get(service._record.runtime["image"])
    base = client.images.get(resolve_base_image())
    # The wheelhouse this image was built from: the image's label names it.
    wheelhouse = wheelhouse_cache / image.labels["mlnb.wheelhouse"]
    wheels = sum(wheel.stat().st_size for wheel in wheelhouse.glob("*.whl"))
    venv = client.containers.run(image.id, ["du", "-sb", "/opt/mlnb/venv"], remove=True, entrypoint=[]).split()[0]
    return {
        "image size": f"{image.attrs['Size'] / 1e6:.0f} MB",
        "  base image": f"{base.attrs['Size'] / 1e6:.0f} MB",
        "  wheels (download)": f"{wheels / 1e6:.0f} MB",
        "  venv (installed)": f"{int(venv) / 1e6:.0f} MB",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["docker", "process", "both"], default="both")
    args = parser.parse_args()
    backends = ["docker", "process"] if args.backend == "both" else [args.backend]
    print(f"base image: {os.environ.get('MLNB_BASE_IMAGE', 'python:3.11-slim')}")
    with tempfile.TemporaryDirectory(prefix="mlnb-bench-deploy-") as tmp:
        table = {backend: bench_backend(backend, Path(tmp)) for backend in backends}
    rows = list(next(iter(table.values())))
    print(f"\n{'to Healthy':<26}" + "".join(f"{b:>12}" for b in backends))
    for row in rows:
        cells = "".join(
            f"{value:>11.2f}s" if isinstance(value, float) else f"{value:>12}"
            for value in (table[b].get(row, "-") for b in backends)
        )
        print(f"{row:<26}{cells}")


if __name__ == "__main__":
    main()
