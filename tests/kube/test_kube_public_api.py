"""mlnb.kube's public surface is honest, and the package stands on mlnb.errors alone."""

from __future__ import annotations

import ast
from pathlib import Path

import mlnb.kube

PACKAGE = Path(mlnb.kube.__file__).parent


def test_all_is_sorted_and_lists_every_public_name() -> None:
    assert mlnb.kube.__all__ == sorted(mlnb.kube.__all__)
    public = {name for name in vars(mlnb.kube) if not name.startswith("_") and name != "annotations"}
    assert public == set(mlnb.kube.__all__)


def test_internal_modules_are_private() -> None:
    assert all(path.name.startswith("_") for path in PACKAGE.glob("*.py"))


def test_it_imports_nothing_from_mlnb_but_errors() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                if name == "mlnb" or name.startswith("mlnb."):
                    assert name == "mlnb.errors" or name.startswith("mlnb.kube"), f"{path.name} imports {name}"
