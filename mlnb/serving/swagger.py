"""The service's Swagger 2.0 and OpenAPI 3 documents, in the shape Azure ML generates.

Built once per worker after the entry script is loaded: ``/`` health, ``POST /score`` with
``ServiceInput`` and ``ServiceOutput`` from inference-schema, ``ErrorResponse``, Bearer
security when keys are set, and ``GET /metrics`` when metrics are on.
"""

from __future__ import annotations

import copy
from typing import Any

from mlnb.serving.schema import RunSchema

__all__ = ["build_swagger"]

_ERROR_STATUSES = {
    "400": "The request body is not valid JSON, or the input schema rejects it.",
    "401": "The Authorization header is missing or holds a wrong key.",
    "413": "The request body is larger than the configured limit.",
    "415": "The content type is not JSON.",
    "500": "run() raised an exception.",
    "503": "The service is starting or a worker is restarting; retry.",
    "504": "run() did not finish within the scoring timeout.",
}
_ERROR_RESPONSE = {
    "type": "object",
    "properties": {
        "status_code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
    },
}


def _service_input(schema: RunSchema | None) -> dict[str, Any]:
    if schema is None:
        return {"type": "object"}
    service_input = copy.deepcopy(schema.input_swagger)
    # inference-schema lists every argument of run(); request_headers is not a body field.
    service_input.get("properties", {}).pop("request_headers", None)
    service_input.get("example", {}).pop("request_headers", None)
    if schema.required:
        service_input["required"] = list(schema.required)
    if not schema.accepts_extra:
        service_input["additionalProperties"] = False
    return service_input


def _metrics_operation(version: int, secured: bool, failed: dict[str, Any]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "Prometheus text exposition format 0.0.4: request counts by route "
                                         "and status, latency and run() histograms, requests in flight, "
                                         "init() time, collection drops; summed over the workers."}
    if version == 2:
        ok["schema"] = {"type": "string"}
    else:
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {"200": ok}
    if secured:
        responses["401"] = failed | {"description": _ERROR_STATUSES["401"]}
    responses["default"] = failed
    operation: dict[str, Any] = {"operationId": "ServiceMetrics",
                                 "description": "The service's metrics, for Prometheus to scrape.",
                                 "responses": responses}
    if version == 2:
        operation["produces"] = ["text/plain"]
    if secured:
        operation["security"] = [{"Bearer": []}]
    return operation


def build_swagger(version: int, *, title: str, schema: RunSchema | None, secured: bool,
                  metrics: bool = False) -> dict[str, Any]:
    """Build the API document.

    Args:
        version: 2 for Swagger 2.0, 3 for OpenAPI 3.0.
        title: The service name.
        schema: The entry script's schema, or ``None`` for an untyped ``run``.
        secured: Whether ``/score`` (and ``/metrics``) require a Bearer key.
        metrics: Whether the service serves ``GET /metrics``.

    Returns:
        The document, ready for ``json.dumps``.
    """
    service_input = _service_input(schema)
    service_output = copy.deepcopy(schema.output_swagger) if schema and schema.output_swagger else {"type": "object"}
    ref = "#/definitions/" if version == 2 else "#/components/schemas/"

    def body(name: str, description: str) -> dict[str, Any]:
        if version == 2:
            return {"description": description, "schema": {"$ref": ref + name}}
        return {"description": description, "content": {"application/json": {"schema": {"$ref": ref + name}}}}

    health_ok: dict[str, Any] = {
        "description": "If service is up and running, this response will be returned with the content 'Healthy'",
    }
    if version == 2:
        health_ok.update(schema={"type": "string"}, examples={"application/json": "Healthy"})
    else:
        health_ok["content"] = {"text/plain": {"schema": {"type": "string"}, "example": "Healthy"}}
    failed = body("ErrorResponse", "The service failed to execute due to an error.")

    score_responses = {"200": body("ServiceOutput", "The service processed the input correctly and provided "
                                                    "a result prediction, if applicable.")}
    for status, description in _ERROR_STATUSES.items():
        if status != "401" or secured:
            score_responses[status] = body("ErrorResponse", description)
    score_responses["default"] = failed
    score: dict[str, Any] = {
        "operationId": "RunMLService",
        "description": "Run web service's model and get the prediction output",
        "responses": score_responses,
    }
    if secured:
        score["security"] = [{"Bearer": []}]
    payload_description = "The input payload for executing the real-time machine learning service."
    if version == 2:
        score["parameters"] = [{"name": "serviceInputPayload", "in": "body", "description": payload_description,
                                "schema": {"$ref": ref + "ServiceInput"}}]
    else:
        score["requestBody"] = {"description": payload_description, "required": True,
                                "content": {"application/json": {"schema": {"$ref": ref + "ServiceInput"}}}}

    paths = {
        "/": {"get": {
            "operationId": "ServiceHealthCheck",
            "description": "Simple health check endpoint to ensure the service is up at any given point.",
            "responses": {"200": health_ok, "default": failed},
        }},
        "/score": {"post": score},
    }
    if metrics:
        paths["/metrics"] = {"get": _metrics_operation(version, secured, failed)}
    schemas = {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": _ERROR_RESPONSE}
    info = {"title": title, "description": f"API specification for {title}", "version": "1.0"}
    bearer = {"type": "apiKey", "name": "Authorization", "in": "header", "description": "For example: Bearer abc123"}
    if version == 2:
        document: dict[str, Any] = {
            "swagger": "2.0", "info": info, "schemes": ["http"],
            "consumes": ["application/json"], "produces": ["application/json"],
        }
        if secured:
            document["securityDefinitions"] = {"Bearer": bearer}
        document.update(paths=paths, definitions=schemas)
        return document
    components: dict[str, Any] = {"schemas": schemas}
    if secured:
        components["securitySchemes"] = {"Bearer": bearer}
    return {"openapi": "3.0.3", "info": info, "paths": paths, "components": components}
