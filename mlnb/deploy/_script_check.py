"""Check an entry script before deploying it: does it parse, define ``init`` and ``run``,
which input mode does it ask for, what is its schema, and does it answer a request?

The import and the test request run in fresh subprocesses, so a script's side effects
(and inference-schema's process-global registry) never touch the notebook's kernel.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from mlnb import _html
from mlnb.deploy._ports import choose_port
from mlnb.deploy.backends import http_ready
from mlnb.errors import EntryScriptError
from mlnb.image import stage_models
from mlnb.registry import Model

_PROBE = """
import json, sys
from mlnb.serving.entry_script import load_entry_script
from mlnb.serving.shim import install_azureml_shim
from mlnb.serving.swagger import build_swagger
install_azureml_shim()  # as the server does: the seed's scripts import azureml.contrib.services
script = load_entry_script(sys.argv[1])
definitions = build_swagger(2, title="check", schema=script.schema, secured=False).get("definitions", {})
print(json.dumps({"mode": script.mode.value, "input": definitions.get("ServiceInput"),
                  "output": definitions.get("ServiceOutput")}))
"""
_MODES = {"raw": "raw body (str)", "schema": "typed by @input_schema", "rawhttp": "@rawhttp request object"}


@dataclass(frozen=True)
class ScriptCheck:
    """What :func:`check_entry_script` found.

    Attributes:
        path: the script.
        mode: ``"raw"``, ``"schema"`` or ``"rawhttp"``.
        input_schema: the swagger ``ServiceInput`` of a schema-typed script.
        output_schema: the swagger ``ServiceOutput``, when declared.
        test_status: the HTTP status of the test request, when one was sent.
        test_response: its parsed body.
        test_log: the server's output during the test (the traceback when ``init()`` failed).
    """

    path: Path
    mode: str
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    test_status: int | None = None
    test_response: Any = None
    test_log: str | None = None

    def __repr__(self) -> str:
        text = f"{self.path.name}: init() and run() found; input mode: {_MODES[self.mode]}"
        if self.input_schema:
            text += f"\ninput schema: {json.dumps(self.input_schema.get('properties', self.input_schema))}"
        if self.test_status is not None:
            text += f"\ntest request: {self.test_status} {json.dumps(self.test_response)}"
        return text

    def _repr_html_(self) -> str:
        rows: list[tuple[str, object]] = [("script", _html.code(self.path.name)), ("input mode", _MODES[self.mode])]
        if self.input_schema:
            rows.append(("input schema", _html.pre(json.dumps(self.input_schema.get("properties", self.input_schema), indent=1))))
        if self.output_schema:
            rows.append(("output schema", _html.pre(json.dumps(self.output_schema, indent=1))))
        if self.test_status is not None:
            rows.append(("test request", _html.pre(f"{self.test_status}: {json.dumps(self.test_response)}")))
        return _html.card(f"Entry script {self.path.name}", rows)


def check_entry_script(
    path: str | Path, *, model: Model | None = None, payload: str | None = None, timeout_s: float = 120
) -> ScriptCheck:
    """Check an entry script; with ``model`` and ``payload``, also score one request.

    The test starts the real scoring server in a fresh process against the model (staged
    as in a deployment), sends ``payload`` to ``/score`` and stops the server.

    Args:
        path: the entry script.
        model: the model to test against.
        payload: the JSON body of the test request.
        timeout_s: how long ``init()`` may take.

    Returns:
        What was found.

    Raises:
        EntryScriptError: when the script does not parse, lacks ``init`` or ``run``, fails
            to import, or (with a test) its ``init()`` fails; the message has the traceback.
    """
    script = Path(path).resolve()
    _check_syntax(script)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(script)], cwd=script.parent, capture_output=True, text=True, timeout=timeout_s
    )
    if probe.returncode != 0:
        raise EntryScriptError(f"importing {script.name} failed:\n{_traceback_of(probe.stderr)}")
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    check = ScriptCheck(script, found["mode"], found["input"], found["output"])
    if model is None or payload is None:
        return check
    status, response, log = _score_once(script, model, payload, timeout_s)
    return ScriptCheck(script, check.mode, check.input_schema, check.output_schema, status, response, log)


def _check_syntax(script: Path) -> None:
    if not script.is_file():
        raise EntryScriptError(f"{script} does not exist")
    try:
        tree = ast.parse(script.read_text(), filename=str(script))
    except SyntaxError as error:
        raise EntryScriptError(f"{script.name} line {error.lineno}: {error.msg}") from None
    defined = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    missing = [name for name in ("init", "run") if name not in defined]
    if missing:
        raise EntryScriptError(f"{script.name} must define {' and '.join(f'{m}()' for m in missing)} at top level")


def _score_once(script: Path, model: Model, payload: str, timeout_s: float) -> tuple[int, Any, str]:
    with tempfile.TemporaryDirectory(prefix="mlnb-check-") as tmp:
        model_dir = stage_models([model], Path(tmp) / "models")
        port = choose_port(None)
        log_path = Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "mlnb.serving", "--entry-script", str(script), "--model-dir", str(model_dir),
                 "--port", str(port)],
                cwd=script.parent, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        try:
            deadline = time.monotonic() + timeout_s
            while not http_ready(port):
                if server.poll() is not None:
                    raise EntryScriptError(f"init() failed:\n{_traceback_of(log_path.read_text())}")
                if time.monotonic() > deadline:
                    raise EntryScriptError(f"init() did not finish within {timeout_s:g} s")
                time.sleep(0.1)
            response = requests.post(
                f"http://127.0.0.1:{port}/score", data=payload, headers={"Content-Type": "application/json"}, timeout=timeout_s
            )
            try:
                body: Any = response.json()
            except ValueError:
                body = response.text
            return response.status_code, body, log_path.read_text()
        finally:
            server.terminate()
            server.wait(10)


def _traceback_of(output: str) -> str:
    start = output.rfind("Traceback (most recent call last):")
    return (output[start:] if start >= 0 else output).strip()
