"""notebooks/from_azure_ml_v1.ipynb on the process backend: the Azure v1 notebook's outputs, as Azure printed them.

With no Docker engine (``DOCKER_HOST`` points at nothing), as on Binder; test_notebooks.py runs it
also on whatever backend ``auto`` finds: Docker in CI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from test_notebooks import NO_ENGINE, _ThisInterpreterKernelManager

from mlnb import Webservice, Workspace

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "from_azure_ml_v1.ipynb"


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output.get("output_type") == "stream"
                   and output.get("name") == "stdout")


def test_the_azure_notebook_runs_with_one_added_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.setenv("MLNB_AZUREML_BACKEND", "process")
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    copy = tmp_path / NOTEBOOK.name
    shutil.copy(NOTEBOOK, copy)
    nb = nbformat.read(copy, as_version=4)
    added = [cell.source for cell in nb.cells if cell.cell_type == "code" and "mlnb" in cell.source]
    assert added == ["%load_ext mlnb.azureml"]  # the only mlnb line in the notebook
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.kernel_manager_class = _ThisInterpreterKernelManager
    try:
        client.execute()
    finally:
        if (tmp_path / ".mlnb").is_dir():
            for service in Webservice.list(Workspace(tmp_path / ".mlnb")):
                service.delete()
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert [o for cell in code for o in cell.get("outputs", []) if o.get("output_type") == "error"] == []
    by_source = {cell.source.splitlines()[0]: _text(cell) for cell in code}

    assert by_source["import azureml.core"] == "SDK version: 1.61.0\nmyworkspace\nmy-resource-group\nlocal\n"
    assert by_source["from azureml.core.model import Model"] == "Registering model sklearn_mnist\nsklearn_mnist\tsklearn_mnist:1\t1\n"
    deployed = by_source["from azureml.core.webservice import LocalWebservice, Webservice"]
    assert "Local webservice is running at http://127.0.0.1:8890" in deployed and deployed.endswith("\nrunning\n")
    consumed = by_source["import json"].splitlines()
    assert consumed[0] == "{'Content-Type': 'application/json'}" and consumed[1] == "200"
    assert len(json.loads(consumed[3])) == 2
    assert "\nSucceeded\n" in by_source["from azureml.core import Dataset"]
    assert "Address: None" in by_source["package = Model.package(ws, [model], inference_config, generate_dockerfile=True)"]
    assert by_source["service.delete()"] == "deleted [] []\n"
