"""Schema-typed script with a pandas DataFrame input (the seed's second example)."""

import numpy as np
import pandas as pd
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.pandas_parameter_type import PandasParameterType
from inference_schema.schema_decorators import input_schema, output_schema

sample = pd.DataFrame(data=[{"input_name_1": 5.1, "input_name_2": "value2", "input_name_3": 3}])


def init():
    pass


@input_schema("data", PandasParameterType(sample))
@output_schema(NumpyParameterType(np.array([0])))
def run(data):
    assert isinstance(data, pd.DataFrame), type(data)
    return data["input_name_3"].to_numpy() * 2
