"""Which files of a source directory ship with a service.

Dependency inference and the build context must see the same files, so both walk a
source directory through :func:`iter_source_files`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Never part of a service: caches, VCS data and mlnb's own workspace, which can be
# large and would otherwise land in every image. Virtual environments are recognised
# by their pyvenv.cfg, whatever their name.
EXCLUDED_NAMES = frozenset(
    {
        ".git", ".hg", ".svn", ".mlnb", "__pycache__", ".ipynb_checkpoints", ".pytest_cache",
        ".mypy_cache", ".ruff_cache", ".tox", "node_modules", ".DS_Store",
    }
)
EXCLUDED_SUFFIXES = (".pyc", ".pyo")


def iter_source_files(root: Path) -> Iterator[Path]:
    """Yield the files under ``root`` that ship with a service, sorted, relative to ``root``.

    Args:
        root: the source directory.

    Returns:
        An iterator of relative paths, in a stable order.
    """
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in EXCLUDED_NAMES and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        )
        base = Path(directory).relative_to(root)
        for filename in sorted(filenames):
            if filename in EXCLUDED_NAMES or filename.endswith(EXCLUDED_SUFFIXES):
                continue
            yield base / filename
