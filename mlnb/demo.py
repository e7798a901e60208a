"""The bundled demo model: scikit-learn's Ridge on the diabetes data set, the seed's entry
script for it, and the seed's two-row request.

The data set ships with scikit-learn (no download). ``mlnb demo`` (:mod:`mlnb.cli`) runs the
whole loop on it; tests, benchmarks and notebooks use the same three pieces.
"""

from __future__ import annotations

from pathlib import Path

from mlnb.errors import InvalidConfiguration

__all__ = ["ENTRY_SCRIPT", "SEED_REQUEST", "train_diabetes_model"]

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
