"""The demo behind ``mlnb demo`` (and ``make demo``): the whole loop on a bundled model.

It trains scikit-learn's Ridge regression on the diabetes data set that ships with
scikit-learn (no download), registers it, writes the seed's entry script, deploys it
(Docker when an engine and the base image are there, else a local process), sends the
seed's two-row request, shows the swagger document's paths, and removes the service.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from mlnb.backends import resolve_backend
from mlnb.config import InferenceConfig, LocalWebservice
from mlnb.errors import InvalidConfiguration, MlnbError
from mlnb.models import Model
from mlnb.workspace import Workspace

ENTRY_SCRIPT = '''\
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl"))


input_sample = np.array([[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]])
output_sample = np.array([3726.995])


@input_schema("data", NumpyParameterType(input_sample))
@output_schema(NumpyParameterType(output_sample))
def run(data):
    return model.predict(data).tolist()
'''

SEED_REQUEST = {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]]}


def train_diabetes_model(target: Path) -> Path:
    """Train Ridge on the diabetes data set and save it with joblib at ``target``.

    Raises:
        InvalidConfiguration: when scikit-learn is not installed.
    """
    try:
        import joblib
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge
    except ImportError:
        raise InvalidConfiguration("the demo needs scikit-learn: pip install 'mlnb[demo]'") from None
    features, labels = load_diabetes(return_X_y=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(Ridge(alpha=0.1).fit(features, labels), target)
    return target


def _pick_backend() -> str:
    """Docker when an engine answers and has the base image (or can pull it), else process."""
    backend, how = resolve_backend("auto")
    if backend.name == "docker":
        from mlnb.packaging import resolve_base_image

        image = resolve_base_image()
        try:
            backend.client.images.get(image)  # type: ignore[attr-defined]
        except Exception:
            try:
                backend.client.images.pull(image)  # type: ignore[attr-defined]
            except Exception:
                print(f"   Docker answers, but base image {image!r} cannot be had; set MLNB_BASE_IMAGE to use Docker")
                return "process"
    print(f"   {how}")
    return backend.name


def run_demo(project: Path | None = None) -> int:
    """Run the demo in ``project`` (a temporary folder when None); returns an exit status."""
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
    except MlnbError as error:
        print(f"mlnb demo failed: {error}")
        return 1
    finally:
        if service is not None:
            service.delete()
            print("8. deleted the service")
        if project is None:
            shutil.rmtree(folder, ignore_errors=True)
