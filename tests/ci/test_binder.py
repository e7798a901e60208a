"""The Binder build: what repo2docker makes of this repository, rendered without Docker.

``repo2docker --no-build --debug`` prints the Dockerfile it would build, offline and with no
engine (a few seconds). Binder builds the same thing from the same files.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import tomllib
from IPython.core.inputtransformer2 import TransformerManager
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _rendered() -> str:
    result = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--debug", str(ROOT)],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent/docker.sock"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def test_repo2docker_picks_binder_its_python_and_post_build() -> None:
    rendered = _rendered()
    version = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    assert f"python={version}" in rendered  # runtime.txt sets the environment's Python
    assert "RUN ./binder/postBuild" in rendered  # binder/ is the configuration folder, its postBuild runs
    mode = subprocess.run(["git", "ls-files", "-s", "binder/postBuild"], cwd=ROOT, capture_output=True, text=True).stdout
    assert mode.startswith("100755"), "binder/postBuild must be executable in git (git update-index --chmod=+x)"


def _imports(source: str) -> set[str]:
    # IPython's own transformation: magics become calls, a cell magic's body a string.
    tree = ast.parse(TransformerManager().transform_cell(source))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module and not node.level}
    return {name.partition(".")[0] for name in names}


def test_post_build_installs_what_the_notebooks_import() -> None:
    installed = re.search(r"pip install .*-e '\.\[(\w+)\]'", (BINDER / "postBuild").read_text())
    assert installed is not None, "postBuild installs mlnb with an extra: pip install -e '.[EXTRA]'"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    offered = {Requirement(r).name.lower() for r in project["dependencies"] + project["optional-dependencies"][installed.group(1)]}
    distributions = importlib.metadata.packages_distributions()
    missing = {}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(notebook, as_version=4).cells
        for module in set().union(*(_imports(cell.source) for cell in cells if cell.cell_type == "code")):
            if module in sys.stdlib_module_names or module in ("mlnb", "azureml"):  # azureml: mlnb.azureml provides it
                continue
            names = {name.lower() for name in distributions.get(module, [module])}
            if not names & offered:
                missing[module] = notebook.name
    assert missing == {}, f"notebooks import what Binder would not install (add to the extra): {json.dumps(missing)}"


def test_the_readme_opens_the_series_on_binder() -> None:
    badge = re.search(r"\[!\[Binder\]\(https://mybinder\.org/badge_logo\.svg\)\]\((\S+)\)", (ROOT / "README.md").read_text())
    assert badge is not None, "the README's Binder badge"
    assert re.fullmatch(r"https://mybinder\.org/v2/gh/[^/]+/mlnb/HEAD\?urlpath=lab/tree/notebooks/README\.md", badge.group(1))
    assert (ROOT / "notebooks" / "README.md").is_file()
