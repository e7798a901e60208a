"""In a real Jupyter kernel, waiting for a deployment shows one line updated in place, not the log."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient
from test_notebooks import _ThisInterpreterKernelManager

from mlnb import Model, Workspace


def test_wait_for_deployment_and_deploy_show_one_line_in_a_kernel(project: tuple[Workspace, Model, Path]) -> None:
    workspace, _, source = project
    deploy_by_api = (
        "from mlnb import InferenceConfig, LocalWebservice, Model, Workspace\n"
        f"ws = Workspace({str(workspace.path)!r})\n"
        "config = LocalWebservice.deploy_configuration(backend='process')\n"
        "service = Model.deploy(ws, 'apisvc', [Model(ws, 'sklearn_regression_model')],\n"
        f"                       InferenceConfig('score.py', source_directory={str(source)!r}), config)\n"
        "service.wait_for_deployment(show_output=True)"
    )
    deploy_by_magic = (
        "%load_ext mlnb\n"
        f"%config MlnbMagics.workspace = {str(workspace.path.parent)!r}\n"
        "%config MlnbMagics.backend = 'process'\n"
        "_ = %deploy magicsvc --model sklearn_regression_model --entry-script score.py"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(deploy_by_api), nbformat.v4.new_code_cell(deploy_by_magic)])
    client = NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(source)}})
    client.kernel_manager_class = _ThisInterpreterKernelManager
    client.execute()
    for cell, name in zip(nb.cells, ["apisvc", "magicsvc"], strict=True):
        outputs = cell["outputs"]
        assert [o["output_type"] for o in outputs] == ["display_data"], outputs  # one element, no printed log
        text = outputs[0]["data"]["text/plain"]
        assert text.startswith(f"{name}: Healthy after ") and text.endswith("/score") and "\n" not in text
        assert "<details><summary>full log (" in outputs[0]["data"]["text/html"]
