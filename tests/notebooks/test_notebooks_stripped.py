"""The notebooks in git carry no outputs: a run's results, timings and widget state stay out of the diff.

Strip them with ``jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`` (which also
drops execution counts); nbclient's per-cell timing metadata goes with
``--ClearMetadataPreprocessor.enabled=True``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
STRIP = "jupyter nbconvert --clear-output --ClearMetadataPreprocessor.enabled=True --inplace"


def leftovers(nb: nbformat.NotebookNode) -> list[str]:
    """What a run left in a notebook: outputs, execution counts, timing or widget metadata."""
    found = [f"notebook metadata {key!r}" for key in ("widgets",) if key in nb.metadata]
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {number}: {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {number}: execution count {cell.execution_count}")
        if "execution" in cell.metadata:
            found.append(f"cell {number}: execution timing metadata")
    return found


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_is_stripped(notebook: Path) -> None:
    found = leftovers(nbformat.read(notebook, as_version=4))
    assert found == [], f"{notebook.name} holds a run's results ({'; '.join(found)}): run `{STRIP} notebooks/{notebook.name}`"


def test_an_executed_notebook_is_caught() -> None:
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    cell = next(cell for cell in nb.cells if cell.cell_type == "code")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", text="hello\n")]
    cell.metadata["execution"] = {"iopub.status.busy": "2026-12-01T00:00:00Z"}
    assert len(leftovers(nb)) == 3
