"""Every notebook in notebooks/ runs top to bottom in a real kernel (nbclient).

Each runs in a copy inside a temporary folder, so its workspace and files stay out of the
repository, and any service it leaves behind is removed. Two runs:

- With no Docker engine (``DOCKER_HOST`` pointing at a socket that does not exist), as on
  Binder: every notebook, on the process backend. Each deployment's first line says
  "no Docker engine here: using local processes", and no output shows docker-py's
  connection error. A notebook whose point is Docker (Swarm, say) says so in its metadata,
  ``{"mlnb": {"needs_docker": true}}``, and is left out of this run.
  ``from_azure_ml_v1`` has its own no-engine run with more checks (test_azureml_notebook.py).
- On whatever backend ``auto`` finds (Docker in CI): the notebooks outside the numbered
  tutorial series. The series is the process backend's, to stay lean; Docker deployments
  are tested in tests/docker/.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from mlnb import Webservice, Workspace

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
SERIES = [n for n in NOTEBOOKS if re.match(r"\d\d_", n.name)]
NO_ENGINE = "unix:///nonexistent/docker.sock"
BINDER_LINE = "no Docker engine here: using local processes"
# What docker-py says when it cannot connect: none of it may reach a notebook's output.
DOCKER_PY_ERRORS = ("Error while fetching server API version", "Connection aborted", "FileNotFoundError", "DockerException")


def execute(notebook: Path, folder: Path) -> nbformat.NotebookNode:
    """Run a copy of ``notebook`` in ``folder`` with this interpreter's kernel; return it with its outputs.

    Services the notebook left running are removed afterwards, whatever happened.
    """
    copy = folder / notebook.name
    shutil.copy(notebook, copy)
    nb = nbformat.read(copy, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    # The kernel must be this interpreter (with mlnb installed), whatever python3 kernelspecs the machine has.
    client.kernel_manager_class = _ThisInterpreterKernelManager
    try:
        client.execute()
    finally:
        if (folder / ".mlnb").is_dir():
            for service in Webservice.list(Workspace(folder / ".mlnb")):
                service.delete()
    return nb


def errors(nb: nbformat.NotebookNode) -> list[str]:
    """The error outputs of a notebook's cells, as ``ename: evalue``."""
    return [
        f"{output['ename']}: {output['evalue']}"
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]


def output_text(nb: nbformat.NotebookNode) -> str:
    """Everything the cells printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
            parts.append(output.get("data", {}).get("text/html", ""))
    return "\n".join(part if isinstance(part, str) else "".join(part) for part in parts)


def _no_engine_run(notebook: Path) -> bool:
    return notebook.name != "from_azure_ml_v1.ipynb" and not nbformat.read(notebook, as_version=4).metadata.get("mlnb", {}).get("needs_docker")


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOKS if _no_engine_run(n)], ids=lambda n: n.stem)
def test_notebook_runs_with_no_docker_engine(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    nb = execute(notebook, tmp_path)
    assert errors(nb) == []
    text = output_text(nb)
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    # A notebook that lets mlnb choose the backend says why it chose local processes.
    if re.search(r"%deploy |Model\.deploy\(", code) and not re.search(r"""backend=["']process["']|--backend process""", code):
        assert BINDER_LINE in text
    deployments = [line for line in text.splitlines() if line.startswith("[mlnb] deploying ")]
    assert all(BINDER_LINE in line for line in deployments), deployments
    assert [error for error in DOCKER_PY_ERRORS if error in text] == []


@pytest.mark.parametrize("notebook", [n for n in NOTEBOOKS if n not in SERIES], ids=lambda n: n.stem)
def test_notebook_runs(notebook: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    assert errors(execute(notebook, tmp_path)) == []


def _this_interpreter_spec() -> KernelSpec:
    return KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        display_name="Python 3 (ipykernel)",
        language="python",
    )


class _ThisInterpreterKernelManager(AsyncKernelManager):
    @property
    def kernel_spec(self) -> KernelSpec:  # type: ignore[override]
        return _this_interpreter_spec()


@pytest.mark.docker
def test_the_scale_out_notebook_runs_its_swarm_part(
    single_node_swarm: object, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """profile → plan → Swarm with 3 replicas → rolling update → Kubernetes manifests, on a real swarm."""
    monkeypatch.delenv("MLNB_WORKSPACE", raising=False)
    monkeypatch.setenv("MLNB_NOTEBOOK_SWARM", "1")
    nb = execute(FOLDER / "scale_out.ipynb", tmp_path)
    assert errors(nb) == []
    text = output_text(nb)
    assert "state: Healthy | replicas (running, asked for): (3, 3) | running, running, running" in text
    assert "after the rolling update: Healthy (3, 3) | running, running, running" in text
    assert "deployment.yaml: valid for Kubernetes 1.31" in text
