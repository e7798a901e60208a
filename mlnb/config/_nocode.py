"""No-code deployment: entry scripts written by mlnb for scikit-learn and ONNX models.

The model is opened once here, at deploy time, to learn its input (number of features,
ONNX input name and type), so the generated script carries a real input schema and the
service's swagger document shows a correct example.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlnb.config._inference import InferenceConfig
from mlnb.errors import InvalidConfiguration
from mlnb.registry import Framework, Model

_SKLEARN_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav")

_SKLEARN_SCRIPT = '''\
"""Entry script written by mlnb for the scikit-learn model {model_id}."""
import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema

MODEL_FILE = {relative!r}


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], MODEL_FILE))


@input_schema("data", NumpyParameterType(np.array({input_sample!r}, dtype={input_dtype!r})))
@output_schema(NumpyParameterType(np.array({output_sample!r})))
def run(data):
    return model.predict(data).tolist()
'''

_ONNX_SCRIPT = '''\
"""Entry script written by mlnb for the ONNX model {model_id}.

Requests: {{"data": [...]}} feeds the model's first input and answers a list of outputs;
{{"inputs": {{"name": [...], ...}}}} (or {{"inputs": [...]}} for the first input), as Azure's no-code
ONNX deployment took, answers {{"outputs": {{"name": [...], ...}}}}.
"""
import os

import numpy as np
import onnxruntime
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema

MODEL_FILE = {relative!r}
INPUT_NAME = {input_name!r}
DTYPES = {{"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64", "tensor(int32)": "int32"}}


def init():
    global session, inputs_dtypes
    path = os.path.join(os.environ["AZUREML_MODEL_DIR"], MODEL_FILE)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs_dtypes = {{i.name: DTYPES.get(i.type, "float32") for i in session.get_inputs()}}


@input_schema("inputs", StandardPythonParameterType({{INPUT_NAME: np.zeros({input_shape!r}).tolist()}}),
              convert_to_provided_type=False, optional=True)
@input_schema("data", NumpyParameterType(np.zeros({input_shape!r}, dtype={input_dtype!r})), optional=True)
def run(data=None, inputs=None):
    if inputs is None:
        if data is None:
            raise ValueError('send {{"data": [...]}} or {{"inputs": {{"%s": [...]}}}}' % INPUT_NAME)
        outputs = session.run(None, {{INPUT_NAME: data.astype({input_dtype!r})}})
        return [output.tolist() for output in outputs]
    feeds = inputs if isinstance(inputs, dict) else {{INPUT_NAME: inputs}}
    unknown = sorted(set(feeds) - set(inputs_dtypes))
    if unknown:
        raise ValueError("unknown model input %s; the inputs are %s" % (unknown[0], ", ".join(inputs_dtypes)))
    arrays = {{name: np.asarray(value, dtype=inputs_dtypes[name]) for name, value in feeds.items()}}
    names = [output.name for output in session.get_outputs()]
    return {{"outputs": dict(zip(names, (output.tolist() for output in session.run(None, arrays))))}}
'''

_ONNX_DTYPES = {"tensor(float)": "float32", "tensor(double)": "float64", "tensor(int64)": "int64", "tensor(int32)": "int32"}


def no_code_inference_config(models: Sequence[Model], folder: Path) -> InferenceConfig:
    """Write an entry script for a single scikit-learn or ONNX model into ``folder``.

    Returns:
        An inference config for the generated script.

    Raises:
        InvalidConfiguration: for several models, another framework, or a model file that
            cannot be found or opened.
    """
    if len(models) != 1:
        raise InvalidConfiguration("no-code deployment serves exactly one model; pass an inference_config for several")
    model = models[0]
    if model.model_framework == Framework.SCIKITLEARN:
        script = _sklearn_script(model)
    elif model.model_framework == Framework.ONNX:
        script = _onnx_script(model)
    else:
        raise InvalidConfiguration(
            f"model {model.id} has framework {model.model_framework or 'None'}; no-code deployment serves "
            "Model.Framework.SCIKITLEARN and ONNX models: pass an inference_config with an entry script"
        )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(script)
    return InferenceConfig(entry_script="score.py", source_directory=folder)


def _find_file(model: Model, suffixes: tuple[str, ...]) -> tuple[Path, str]:
    """The model file and its path relative to the model folder (as the script sees it)."""
    artifact = model.checkout()
    if not model.is_folder:
        return artifact, artifact.name
    candidates = sorted(p for p in artifact.rglob("*") if p.suffix.lower() in suffixes)
    if len(candidates) != 1:
        raise InvalidConfiguration(
            f"model {model.id} is a folder with {len(candidates)} files ending in {', '.join(suffixes)}; "
            "no-code deployment needs exactly one: pass an inference_config with an entry script"
        )
    return candidates[0], candidates[0].relative_to(artifact.parent).as_posix()


def _sklearn_script(model: Model) -> str:
    path, relative = _find_file(model, _SKLEARN_SUFFIXES)
    try:
        import joblib
        import numpy as np

        estimator = joblib.load(path)
    except Exception as error:  # any unpickling failure means the same thing to the user
        raise InvalidConfiguration(
            f"could not load {path.name} of model {model.id} with joblib here ({type(error).__name__}: {error}); "
            "no-code deployment opens the model to learn its input: install its libraries, or pass an inference_config"
        ) from error
    features = getattr(estimator, "n_features_in_", None)
    if not hasattr(estimator, "predict") or features is None:
        raise InvalidConfiguration(
            f"model {model.id} is not a fitted scikit-learn estimator with predict(); pass an inference_config"
        )
    sample = np.zeros((1, int(features)))
    prediction = np.asarray(estimator.predict(sample)).tolist()
    return _SKLEARN_SCRIPT.format(
        model_id=model.id, relative=relative, input_sample=sample.tolist(), input_dtype="float64",
        output_sample=prediction,
    )


def _onnx_script(model: Model) -> str:
    path, relative = _find_file(model, (".onnx",))
    try:
        import onnxruntime
    except ImportError:
        raise InvalidConfiguration(
            "no-code deployment of an ONNX model reads its inputs with onnxruntime: pip install onnxruntime"
        ) from None
    first = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0]
    dtype = _ONNX_DTYPES.get(first.type)
    if dtype is None:
        raise InvalidConfiguration(f"model {model.id}'s input {first.name!r} has type {first.type}; pass an inference_config")
    shape = tuple(dim if isinstance(dim, int) else 1 for dim in first.shape)
    return _ONNX_SCRIPT.format(
        model_id=model.id, relative=relative, input_name=first.name, input_shape=shape, input_dtype=dtype
    )
