"""Schema-typed script with standard types and a request_headers parameter."""

from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("name", StandardPythonParameterType("world"))
@input_schema("count", StandardPythonParameterType(1))
@output_schema(StandardPythonParameterType({"greeting": "hello world", "agent": "x"}))
def run(name, count, request_headers):
    return {"greeting": " ".join([f"hello {name}"] * count), "agent": request_headers.get("User-Agent", "")}
