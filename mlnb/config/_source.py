"""Which files of a source directory ship with a service.

Dependency inference and the build context must see the same files, so both walk a
source directory through :func:`iter_source_files`.

Besides the names that never ship (:data:`EXCLUDED_NAMES`), the ignore files at the root
of the source directory leave files out, in gitignore syntax: ``.amlignore`` (Azure ML's),
or ``.gitignore`` when there is no ``.amlignore`` (Azure's rule: the first replaces the
second), plus ``.mlnbignore``. The patterns are matched by ``pathspec``'s
``GitIgnoreSpec``, which implements git's own rules (negation, ``**``, anchoring,
directory-only patterns and their precedence): subtle enough that a hand-written matcher
would disagree with git on some file, and a user writes these files for git first.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from pathspec import GitIgnoreSpec

from mlnb.errors import InvalidConfiguration
from mlnb.registry import SymlinkRefused, symlink_target

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


#: Ignore files read at the root of a source directory, in gitignore syntax.
IGNORE_FILES = (".amlignore", ".gitignore", ".mlnbignore")


def ignore_spec(root: Path) -> GitIgnoreSpec | None:
    """The patterns of the source directory's ignore files; None when it has none.

    ``.amlignore`` replaces ``.gitignore`` when both exist (as in Azure ML);
    ``.mlnbignore`` always adds to them.
    """
    amlignore, gitignore, mlnbignore = (root / name for name in IGNORE_FILES)
    lines: list[str] = []
    for path in (amlignore if amlignore.is_file() else gitignore, mlnbignore):
        if path.is_file():
            lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    return GitIgnoreSpec.from_lines(lines) if any(line.strip() and not line.startswith("#") for line in lines) else None


def iter_source_files(root: Path) -> Iterator[Path]:
    """Yield the files under ``root`` that ship with a service, sorted, relative to ``root``.

    Left out: :data:`EXCLUDED_NAMES`, compiled files, virtual environments and what the
    ignore files (:data:`IGNORE_FILES`) match. Symlinks follow the registry's rule
    (docs/registry.md): one that resolves inside ``root`` ships as what it points to, under
    its own name; one that leaves ``root``, dangles or loops is refused, as is anything
    that is not a regular file or folder (an ignored entry is never looked at).

    Args:
        root: the source directory.

    Returns:
        An iterator of relative paths, in a stable order.

    Raises:
        InvalidConfiguration: naming the first entry the symlink rule refuses.
    """
    spec = ignore_spec(root)
    real_root = root.resolve()
    for directory, dirnames, filenames in os.walk(root, followlinks=True):
        base = Path(directory).relative_to(root)
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in EXCLUDED_NAMES and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
            and not (spec is not None and spec.match_file((base / d).as_posix() + "/"))
        )
        for name in dirnames:
            if os.path.islink(os.path.join(directory, name)):
                target = _inside(root, real_root, base / name)
                # The folders this one is inside, as walked: a link back to one of them is a loop.
                chain = {Path(os.path.realpath(root.joinpath(*base.parts[:depth]))) for depth in range(len(base.parts) + 1)}
                if target in chain:
                    raise _refused(root, base / name, f"is a symlink to {target}, a folder that contains it; "
                                   "a loop cannot ship")
        for filename in sorted(filenames):
            if filename in EXCLUDED_NAMES or filename.endswith(EXCLUDED_SUFFIXES):
                continue
            if spec is not None and spec.match_file((base / filename).as_posix()):
                continue
            path = Path(directory, filename)
            if path.is_symlink():
                _inside(root, real_root, base / filename)
            if not stat.S_ISREG(path.stat().st_mode):
                raise _refused(root, base / filename, "is not a regular file or folder; remove it, or list it in .mlnbignore")
            yield base / filename


def _inside(root: Path, real_root: Path, relative: Path) -> Path:
    """The resolved target of the symlink ``root / relative``, which must exist inside ``root``."""
    try:
        return symlink_target(root / relative, real_root, folder_kind="the source directory")
    except SymlinkRefused as refusal:
        raise _refused(root, relative, str(refusal)) from None


def _refused(root: Path, relative: Path, why: str) -> InvalidConfiguration:
    return InvalidConfiguration(f"the source directory {root}: {relative.as_posix()!r} {why}")


#: The environment variable that sets :func:`large_source_warning`'s threshold, in MB.
SOURCE_WARN_ENV = "MLNB_SOURCE_WARN_MB"
#: The default threshold: a source directory this big usually holds data or models by mistake.
SOURCE_WARN_MB = 50.0


def large_source_warning(root: Path, *, threshold_mb: float | None = None) -> str | None:
    """A warning naming the size and the biggest files when what ships of ``root`` passes a threshold.

    Args:
        root: the source directory.
        threshold_mb: the threshold; default: ``$MLNB_SOURCE_WARN_MB``, else :data:`SOURCE_WARN_MB`.
            0 or less turns the warning off.

    Returns:
        One line, or None when the source is smaller.
    """
    if threshold_mb is None:
        threshold_mb = float(os.environ.get(SOURCE_WARN_ENV) or SOURCE_WARN_MB)
    if threshold_mb <= 0:
        return None
    sizes = [(os.lstat(root / relative).st_size, relative.as_posix()) for relative in iter_source_files(root)]
    total = sum(size for size, _ in sizes)
    if total <= threshold_mb * 1e6:
        return None
    biggest = ", ".join(f"{name} ({size / 1e6:.1f} MB)" for size, name in sorted(sizes, reverse=True)[:3])
    return (
        f"the source directory {root} ships {total / 1e6:.1f} MB in {len(sizes)} files (over {threshold_mb:g} MB; "
        f"biggest: {biggest}); leave out what the service does not need with a .amlignore or .mlnbignore "
        f"(gitignore syntax), or set {SOURCE_WARN_ENV}"
    )
