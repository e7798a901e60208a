"""Input modes, the azureml shim, keys, CORS and environment configuration, over HTTP."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import requests
from conftest import SCRIPTS, Server, script


@pytest.fixture(scope="module")
def raw_server(launch: object) -> Server:
    return launch(["--entry-script", script("raw.py")])  # type: ignore[operator]


def test_undecorated_run_gets_the_raw_body_as_str(raw_server: Server) -> None:
    response = requests.post(raw_server.score_url, data="not json at all", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.json() == {"type": "str", "echo": "not json at all"}


def test_run_raising_is_500_with_the_failure_header(raw_server: Server) -> None:
    response = requests.post(raw_server.score_url, json={"action": "fail"})
    assert response.status_code == 500
    assert response.headers["x-ms-run-function-failed"] == "True"
    assert response.json()["message"] == "run() raised ValueError: asked to fail"
    assert "asked to fail" in raw_server.log()  # the traceback is logged


def test_non_json_native_returns_are_serialised(raw_server: Server) -> None:
    assert sorted(requests.post(raw_server.score_url, json={"action": "set"}).json()) == [1, 2]


def test_invalid_utf8_is_400(raw_server: Server) -> None:
    response = requests.post(raw_server.score_url, data=b"\xff\xfe")
    assert response.status_code == 400 and "UTF-8" in response.json()["message"]


def test_keys_guard_score_in_constant_time(launch: object, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("primary-k\nsecondary-k\n")
    keys.chmod(0o600)
    server = launch(["--entry-script", script("raw.py"), "--auth-keys-file", str(keys)])  # type: ignore[operator]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "primary-k"}):
        response = requests.post(server.score_url, data="x", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "message" in response.json()
    for key in ("primary-k", "secondary-k"):
        assert requests.post(server.score_url, data="x", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert requests.get(f"{server.url}/").status_code == 200
    doc = requests.get(f"{server.url}/swagger.json").json()
    assert doc["securityDefinitions"]["Bearer"]["name"] == "Authorization"
    assert doc["paths"]["/score"]["post"]["security"] == [{"Bearer": []}]
    doc3 = requests.get(f"{server.url}/swagger.json?version=3").json()
    assert "Bearer" in doc3["components"]["securitySchemes"]


@pytest.fixture(scope="module")
def compat_server(launch: object, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """The seed's @rawhttp script, configured only through Azure's environment variables."""
    models = tmp_path_factory.mktemp("models")
    version_dir = models / "sklearn_mnist" / "1"
    version_dir.mkdir(parents=True)
    (version_dir / "sklearn_mnist_model.pkl").write_bytes(b"model")
    env = {
        "AML_APP_ROOT": str(SCRIPTS),
        "AZUREML_ENTRY_SCRIPT": "rawhttp_compat.py",
        "AZUREML_MODEL_DIR": str(version_dir),
        "WORKER_COUNT": "2",
        "SCORING_TIMEOUT_MS": "5000",
        "AML_CORS_ORIGINS": "http://allowed.example, http://other.example",
    }
    return launch([], env=env)  # type: ignore[operator]


def test_azureml_is_not_importable_in_the_test_environment() -> None:
    # The shim only exists inside the server process; the user's environment stays clean.
    assert importlib.util.find_spec("azureml") is None


def test_rawhttp_get_sees_the_request(compat_server: Server) -> None:
    response = requests.get(compat_server.score_url, params={"x": "1"})
    assert (response.status_code, response.text) == (200, "/score?x=1")


def test_rawhttp_post_returns_the_script_response(compat_server: Server) -> None:
    response = requests.post(compat_server.score_url, data=b"\x00\x01binary", headers={"Content-Type": "image/png"})
    assert response.status_code == 200
    assert response.content == b"\x00\x01binary"
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Access-Control-Allow-Origin"] == "http://www.example.com"
    assert "x-ms-run-fn-exec-ms" in response.headers


def test_a_response_marked_run_function_failed_carries_azures_header(compat_server: Server) -> None:
    # Azure's AMLResponse(message, status_code, response_headers, json_str, run_function_failed), positionally.
    response = requests.post(f"{compat_server.score_url}?what=failed", data=b"")
    assert (response.status_code, response.text) == (422, "no such input")
    assert response.headers["x-reason"] == "demo"
    assert response.headers["x-ms-run-function-failed"] == "True"


def test_shim_model_path_resolves_the_single_model_layout(compat_server: Server) -> None:
    response = requests.post(f"{compat_server.score_url}?what=model", data=b"")
    assert response.status_code == 200
    assert Path(response.json()["model_path"]).name == "sklearn_mnist_model.pkl"


def test_cors_preflight_and_response_headers(compat_server: Server) -> None:
    preflight = requests.options(compat_server.score_url, headers={
        "Origin": "http://other.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://other.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "authorization, content-type"
    denied = requests.options(compat_server.score_url, headers={"Origin": "http://evil.example"})
    assert denied.status_code == 200 and "Access-Control-Allow-Origin" not in denied.headers
    get = requests.get(f"{compat_server.url}/", headers={"Origin": "http://allowed.example"})
    assert get.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    assert "x-ms-request-id" in get.headers["Access-Control-Expose-Headers"]


def test_request_headers_and_standard_types(launch: object) -> None:
    server = launch(["--entry-script", script("headers.py")])  # type: ignore[operator]
    response = requests.post(server.score_url, json={"name": "ada", "count": 2}, headers={"User-Agent": "probe/1"})
    assert response.status_code == 200, response.text
    assert response.json() == {"greeting": "hello ada hello ada", "agent": "probe/1"}
    service_input = requests.get(f"{server.url}/swagger.json").json()["definitions"]["ServiceInput"]
    assert set(service_input["properties"]) == {"name", "count"}  # request_headers is not a body field
    missing = requests.post(server.score_url, json={"name": "ada"})
    assert missing.status_code == 400 and "'count'" in missing.json()["message"]


def test_pandas_input(launch: object) -> None:
    server = launch(["--entry-script", script("schema_pandas.py")])  # type: ignore[operator]
    rows = [{"input_name_1": 1.5, "input_name_2": "a", "input_name_3": 3},
            {"input_name_1": 2.5, "input_name_2": "b", "input_name_3": 4}]
    response = requests.post(server.score_url, json={"data": rows})
    assert (response.status_code, response.json()) == (200, [6, 8])
