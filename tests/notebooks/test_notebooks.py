"""Every notebook in notebooks/ runs top to bottom in a real kernel (nbclient).

Each runs in a copy inside a temporary folder, so its workspace and files stay out of the
repository. The backend is whatever ``auto`` finds: Docker in CI, where an engine runs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    copy = tmp_path / notebook.name
    shutil.copy(notebook, copy)
    nb = nbformat.read(copy, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    # The kernel must be this interpreter (with mlnb installed), whatever python3 kernelspecs the machine has.
    client.kernel_manager_class = _ThisInterpreterKernelManager
    client.execute()
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []


def _this_interpreter_spec() -> KernelSpec:
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)",
        language="python",
    )


from jupyter_client.manager import AsyncKernelManager  # noqa: E402


class _ThisInterpreterKernelManager(AsyncKernelManager):
    @property
    def kernel_spec(self) -> KernelSpec:  # type: ignore[override]
        return _this_interpreter_spec()
