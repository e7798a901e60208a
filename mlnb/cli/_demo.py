"""``mlnb demo`` (and ``make demo``): the whole loop on the bundled model, told step by step.

It trains the demo model (:mod:`mlnb.demo`), registers it, writes the seed's entry script,
deploys it (Docker when an engine and the base image are there, else a local process), sends
the seed's two-row request, shows the swagger document's paths, and removes the service.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from mlnb._facade import Model
from mlnb.config import InferenceConfig, LocalWebservice
from mlnb.demo import ENTRY_SCRIPT, SEED_REQUEST, train_diabetes_model
from mlnb.errors import BaseImageNotFound, DockerUnavailable
from mlnb.image import ensure_base_image, resolve_base_image
from mlnb.registry import Workspace

__all__ = ["run_demo"]


def _pick_backend() -> str:
    """Docker when an engine answers and has the base image (or can pull it), else process."""
    image = resolve_base_image()
    try:
        ensure_base_image(image)
    except DockerUnavailable as error:
        print(f"   backend: process ({error})")
        return "process"
    except BaseImageNotFound:
        print(f"   Docker answers, but base image {image!r} cannot be had; set MLNB_BASE_IMAGE to use Docker")
        return "process"
    print(f"   backend: docker (an engine answers and has {image})")
    return "docker"


def run_demo(project: Path | None = None) -> int:
    """Run the demo in ``project`` (a temporary folder when None); returns an exit status.

    Raises:
        MlnbError: when a step fails; the service, if it started, is deleted first.
    """
    folder = project or Path(tempfile.mkdtemp(prefix="mlnb-demo-"))
    service = None
    try:
        print(f"1. project folder {folder}")
        ws = Workspace.create(folder)
        model_path = train_diabetes_model(folder / "outputs" / "sklearn_regression_model.pkl")
        print(f"2. trained Ridge on the diabetes data set -> {model_path.name}")
        import sklearn

        model = Model.register(
            workspace=ws,
            model_path=model_path,
            model_name="sklearn_regression_model",
            tags={"area": "diabetes", "type": "regression"},
            description="Ridge regression on scikit-learn's diabetes data set",
            model_framework=Model.Framework.SCIKITLEARN,
            model_framework_version=sklearn.__version__,
        )
        print(f"3. registered {model.id} ({model.size} bytes)")
        print(Model.list(ws).to_dataframe()[["name", "version", "framework", "size"]].to_string(index=False))

        source = folder / "source"
        source.mkdir(exist_ok=True)
        (source / "score.py").write_text(ENTRY_SCRIPT)
        print("4. wrote the entry script source/score.py; deploying")
        inference_config = InferenceConfig(entry_script="score.py", source_directory=source)
        deployment_config = LocalWebservice.deploy_configuration(backend=_pick_backend())
        service = Model.deploy(ws, "myservice", [model], inference_config, deployment_config)
        service.wait_for_deployment(show_output=True)
        print(f"5. {service.name} is {service.state} at {service.scoring_uri}")

        print(f"6. POST {json.dumps(SEED_REQUEST)}")
        print(f"   -> {service.run(json.dumps(SEED_REQUEST))}")
        import requests

        swagger = requests.get(service.swagger_uri, timeout=10).json()
        print(f"7. swagger at {service.swagger_uri}: paths {', '.join(swagger['paths'])}")
        return 0
    finally:
        if service is not None:
            service.delete()
            print("8. deleted the service")
        if project is None:
            shutil.rmtree(folder, ignore_errors=True)
