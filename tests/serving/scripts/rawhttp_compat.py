"""The seed's @rawhttp example, with Azure imports, plus CORS from the script."""

from azureml.contrib.services.aml_request import AMLRequest, rawhttp
from azureml.contrib.services.aml_response import AMLResponse
from azureml.core.model import Model


def init():
    global model_path
    model_path = Model.get_model_path("sklearn_mnist")


@rawhttp
def run(request):
    assert isinstance(request, AMLRequest)
    if request.method == "GET":
        return AMLResponse(str.encode(request.full_path), 200)
    if request.method == "POST":
        if request.args.get("what") == "model":
            return AMLResponse({"model_path": model_path}, 200, json_str=True)
        if request.args.get("what") == "failed":
            return AMLResponse("no such input", 422, {"x-reason": "demo"}, False, True)
        resp = AMLResponse(request.get_data(False), 200)
        resp.headers["Access-Control-Allow-Origin"] = "http://www.example.com"
        resp.headers["Content-Type"] = request.headers.get("Content-Type", "application/octet-stream")
        return resp
    return AMLResponse("bad request", 500)
