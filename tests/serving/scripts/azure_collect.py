"""An Azure v1 entry script: the seed's ``sklearn.externals`` import and Azure's data collection."""

import json

import numpy as np
from azureml.core.model import Model
from azureml.monitoring import ModelDataCollector
from sklearn.externals import joblib


def init():
    global model, inputs_dc, prediction_dc
    model = joblib.load(Model.get_model_path("diabetes"))
    inputs_dc = ModelDataCollector("diabetes", designation="inputs",
                                   feature_names=["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"])
    prediction_dc = ModelDataCollector("diabetes", designation="predictions", feature_names=["prediction"])


def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    result = model.predict(data)
    inputs_dc.collect(data, user_correlation_id="req")
    prediction_dc.collect(result)
    return result.tolist()
