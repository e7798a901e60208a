"""No-code deployment through the Azure layer: the seed's scikit-learn and ONNX examples.

``Model.deploy(ws, name, [model])`` with no configuration deploys as Azure's default
(ACI), here one local service; an ONNX service takes the ``{"inputs": ...}`` requests of
Azure's no-code ONNX deployment as well as mlnb's ``{"data": ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROWS = [[0.038, 0.051, 0.062, 0.022, -0.044, -0.035, -0.043, -0.003, 0.020, -0.018],
        [-0.002, -0.045, -0.051, -0.026, -0.008, -0.019, 0.074, -0.039, -0.068, -0.092]]


@pytest.fixture()
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from mlnb.compat.azureml._hook import activate, deactivate

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.setenv("MLNB_AZUREML_BACKEND", "process")
    assert activate()
    from azureml.core import Webservice, Workspace

    workspace = Workspace.create("myworkspace", show_output=False)
    yield workspace
    for service in Webservice.list(workspace):
        service.delete()
    deactivate()


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory: pytest.TempPathFactory, diabetes_model_file: Path) -> Path:
    import joblib
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    onnx_model = convert_sklearn(joblib.load(diabetes_model_file), initial_types=[("float_input", FloatTensorType([None, 10]))])
    path = tmp_path_factory.mktemp("onnx") / "diabetes.onnx"
    path.write_bytes(onnx_model.SerializeToString())
    return path


def test_the_seeds_scikit_learn_model_deploys_without_code(ws: Any, diabetes_model_file: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import joblib
    from azureml.core import Model
    from azureml.core.resource_configuration import ResourceConfiguration
    from azureml.core.webservice import AciWebservice

    model = Model.register(workspace=ws, model_name="my-sklearn-model", model_path=str(diabetes_model_file),
                           model_framework=Model.Framework.SCIKITLEARN, model_framework_version="0.19.1",
                           resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
                           description="Ridge regression model to predict diabetes progression.",
                           tags={"area": "diabetes", "type": "regression"})
    service = Model.deploy(ws, "my-sklearn-service", [model])
    service.wait_for_deployment(show_output=True)
    assert isinstance(service, AciWebservice) and service.state == "Healthy"
    assert capsys.readouterr().out.endswith('ACI service creation operation finished, operation "Succeeded"\n')
    assert service.run(json.dumps({"data": ROWS})) == pytest.approx(joblib.load(diabetes_model_file).predict(ROWS).tolist())
    assert model.resource_configuration is not None and model.resource_configuration.serialize() == {
        "cpu": 1, "memoryInGB": 0.5, "gpu": None}


def test_an_onnx_service_takes_azures_inputs_requests(ws: Any, onnx_file: Path, diabetes_model_file: Path) -> None:
    import joblib
    from azureml.core import Model

    model = Model.register(workspace=ws, model_name="mnist-sample", model_path=str(onnx_file),
                           model_framework=Model.Framework.ONNX, model_framework_version="1.3", description="Onnx model")
    service = Model.deploy(ws, "onnx-mnist-service", [model])
    service.wait_for_deployment()
    expected = joblib.load(diabetes_model_file).predict(ROWS)

    by_name = service.run(json.dumps({"inputs": {"float_input": ROWS}}))
    assert list(by_name) == ["outputs"] and list(by_name["outputs"]) == ["variable"]
    assert np.ravel(by_name["outputs"]["variable"]) == pytest.approx(expected, rel=1e-4)
    assert np.ravel(service.run(json.dumps({"inputs": ROWS}))["outputs"]["variable"]) == pytest.approx(expected, rel=1e-4)
    assert np.ravel(service.run(json.dumps({"data": ROWS}))[0]) == pytest.approx(expected, rel=1e-4)


def test_an_onnx_request_naming_an_unknown_input_says_which_exist(ws: Any, onnx_file: Path) -> None:
    from azureml.core import Model
    from azureml.exceptions import WebserviceException

    model = Model.register(ws, str(onnx_file), "onnx-model", model_framework=Model.Framework.ONNX)
    service = Model.deploy(ws, "onnx-errors", [model])
    service.wait_for_deployment()
    with pytest.raises(WebserviceException, match="unknown model input x; the inputs are float_input"):
        service.run(json.dumps({"inputs": {"x": ROWS}}))
