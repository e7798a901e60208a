"""The benchmark's entry script: the diabetes Ridge model behind a numpy input schema.

Served unchanged by azmlinfsrv and by mlnb (``bench/serving.py``).
"""

import os

import joblib
import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    global model
    model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.pkl"))


@input_schema("data", NumpyParameterType(np.array([[0.03, 0.05, 0.06, 0.02, -0.04, -0.03, -0.04, 0.0, 0.02, -0.02]])))
@output_schema(NumpyParameterType(np.array([150.0])))
def run(data):
    return model.predict(data).tolist()
