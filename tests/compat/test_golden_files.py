"""The golden files from ``tools/extract_azureml_signatures.py``, and the serving shims measured against them.

The shims are imported in a child interpreter, the way a service sees them: the test
process itself must not have ``azureml`` on its path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
SIGNATURES = json.loads((HERE / "azureml_signatures.json").read_text())
PRINTED = json.loads((HERE / "azureml_printed.json").read_text())

#: (golden path, member or "" for a function) -> the shim's object as "module:qualified name".
SHIMMED = {
    ("azureml.core.Model", "get_model_path"): "azureml.core.model:Model.get_model_path",
    ("azureml.contrib.services.aml_request.rawhttp", ""): "azureml.contrib.services.aml_request:rawhttp",
    ("azureml.monitoring.ModelDataCollector", "__init__"): "azureml.monitoring:ModelDataCollector.__init__",
    ("azureml.monitoring.ModelDataCollector", "collect"): "azureml.monitoring:ModelDataCollector.collect",
    ("azureml.monitoring.ModelDataCollector", "add_correlations"):
        "azureml.monitoring:ModelDataCollector.add_correlations",
}

# The same parameter records as the extraction tool's, with self/cls left out.
_PROBE = """
import functools, importlib, inspect, json, sys
from mlnb.serving.shim import install_azureml_shim
install_azureml_shim()
out = {}
for target in json.loads(sys.argv[1]):
    module, _, qualname = target.partition(":")
    obj = functools.reduce(getattr, qualname.split("."), importlib.import_module(module))
    params = [{"name": p.name, "kind": p.kind.name.lower(),
               "default": None if p.default is inspect.Parameter.empty else repr(p.default)}
              for p in inspect.signature(obj).parameters.values()]
    out[target] = params[1:] if params and params[0]["name"] in ("self", "cls") else params
print(json.dumps(out))
"""


def golden_parameters(path: str, member: str) -> list[dict[str, Any]]:
    entry = SIGNATURES["surface"][path]
    return list(entry["parameters"] if not member else entry["members"][member]["parameters"])


@pytest.fixture(scope="module")
def shim_parameters() -> dict[str, list[dict[str, Any]]]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(sorted(SHIMMED.values()))], check=True,
                          capture_output=True, text=True, env=environ, timeout=120)
    result: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return result


def test_golden_files_record_the_sdk_they_came_from() -> None:
    for document in (SIGNATURES, PRINTED):
        assert document["_about"]["azureml.core.VERSION"] == "1.61.0"
        assert document["_about"]["distributions"]["azureml-core"].startswith("1.61.")


def test_every_surface_entry_was_found() -> None:
    # Names the SDK lacks are recorded as "missing" rather than dropped; these are the known ones.
    missing = sorted(f"{path}.{name}" for path, entry in SIGNATURES["surface"].items()
                     for name, member in entry.get("members", {}).items() if member["what"] == "missing")
    assert missing == ["azureml.core.profile.ModelProfile.wait_for_profiling", "azureml.core.webservice.Webservice.reload",
                       "azureml.core.webservice.Webservice.scoring_uri", "azureml.core.webservice.Webservice.swagger_uri"]


@pytest.mark.parametrize(("path", "member"), sorted(SHIMMED))
def test_serving_shim_has_azures_parameters(shim_parameters: dict[str, list[dict[str, Any]]],
                                            path: str, member: str) -> None:
    assert shim_parameters[SHIMMED[(path, member)]] == golden_parameters(path, member)


def test_porting_guide_has_a_row_for_every_recorded_name() -> None:
    listed: set[tuple[str, str]] = set()
    path = ""
    for line in (ROOT / "docs" / "porting.md").read_text().splitlines():
        if heading := re.fullmatch(r"### `([\w.]+)`", line):
            path = heading[1]
        elif path and (row := re.match(r"\| `(\w+)` \|", line)):
            listed.add((path, row[1]))
    recorded = {(path, name) for path, entry in SIGNATURES["surface"].items()
                for name in entry.get("members", {path.rsplit(".", 1)[1]: None})}
    assert listed == recorded
