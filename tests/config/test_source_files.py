"""What ships of a source directory: the ignore files (.amlignore, .gitignore, .mlnbignore) and the size warning."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mlnb.config import iter_source_files, large_source_warning
from mlnb.errors import InvalidConfiguration


def write(root: Path, name: str, text: str = "x") -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def shipped(root: Path) -> set[str]:
    return {path.as_posix() for path in iter_source_files(root)}


@pytest.fixture()
def notebook_folder(tmp_path: Path) -> Path:
    """A notebook's folder: the entry script beside the notebook, the pickled model, data and outputs."""
    for name in ("score.py", "helpers/util.py", "analysis.ipynb", "sklearn_regression_model.pkl", "data/train.csv",
                 "data/keep.csv", "outputs/run1/log.txt"):
        write(tmp_path, name)
    return tmp_path


def test_gitignore_patterns_leave_files_out(notebook_folder: Path) -> None:
    write(notebook_folder, ".gitignore", "# build output\n*.pkl\n/outputs/\ndata/*\n!data/keep.csv\n*.ipynb\n")
    assert shipped(notebook_folder) == {".gitignore", "score.py", "helpers/util.py", "data/keep.csv"}


def test_amlignore_replaces_gitignore_and_mlnbignore_adds_to_either(notebook_folder: Path) -> None:
    write(notebook_folder, ".gitignore", "*.py\n")  # for git only, once an .amlignore exists (Azure's rule)
    write(notebook_folder, ".amlignore", "*.ipynb\n*.pkl\n")
    write(notebook_folder, ".mlnbignore", "data/\n")
    assert shipped(notebook_folder) == {".amlignore", ".gitignore", ".mlnbignore", "score.py", "helpers/util.py",
                                        "outputs/run1/log.txt"}


def test_without_ignore_files_everything_but_caches_ships(notebook_folder: Path) -> None:
    write(notebook_folder, "__pycache__/score.cpython-311.pyc")
    assert "analysis.ipynb" in shipped(notebook_folder) and not any("__pycache__" in f for f in shipped(notebook_folder))


def test_a_large_source_directory_is_named_with_its_size_and_biggest_files(notebook_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(notebook_folder, "data/train.csv", "1," * 1_500_000)  # 3 MB
    warning = large_source_warning(notebook_folder, threshold_mb=2)
    assert warning is not None
    assert f"the source directory {notebook_folder} ships 3.0 MB in 7 files (over 2 MB; biggest: data/train.csv (3.0 MB)" in warning
    assert ".amlignore or .mlnbignore" in warning and "MLNB_SOURCE_WARN_MB" in warning
    assert large_source_warning(notebook_folder, threshold_mb=5) is None
    monkeypatch.setenv("MLNB_SOURCE_WARN_MB", "1")
    assert large_source_warning(notebook_folder) is not None
    monkeypatch.setenv("MLNB_SOURCE_WARN_MB", "0")  # off
    assert large_source_warning(notebook_folder) is None
    write(notebook_folder, ".mlnbignore", "data/\n")
    assert large_source_warning(notebook_folder, threshold_mb=2) is None  # what is ignored does not count


# -- symlinks: the registry's rule (docs/registry.md), for what ships -----------------------


def test_links_inside_the_folder_ship_as_what_they_point_to(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write(source, "score.py")
    write(source, "lib/helper.py")
    (source / "helper_link.py").symlink_to("lib/helper.py")
    (source / "lib_link").symlink_to("lib", target_is_directory=True)
    assert shipped(source) == {"score.py", "lib/helper.py", "helper_link.py", "lib_link/helper.py"}


@pytest.mark.parametrize(("make", "why"), [
    (lambda src, out: (src / "passwd").symlink_to("/etc/passwd"), "outside the source directory"),
    (lambda src, out: (src / "secrets").symlink_to(out, target_is_directory=True), "outside the source directory"),
    (lambda src, out: (src / "gone.py").symlink_to(src / "missing.py"), "which does not exist"),
    (lambda src, out: (src / "lib" / "up").symlink_to("..", target_is_directory=True), "a folder that contains it"),
    (lambda src, out: os.mkfifo(src / "pipe"), "not a regular file or folder"),
], ids=["file outside", "folder outside", "dangling", "loop", "pipe"])
def test_links_out_dangling_or_looping_and_odd_files_are_refused_by_name(
    tmp_path: Path, make: Callable[[Path, Path], object], why: str
) -> None:
    source, outside = tmp_path / "src", tmp_path / "outside"
    write(source, "score.py")
    write(source, "lib/helper.py")
    write(outside, "key.pem")
    make(source, outside)
    with pytest.raises(InvalidConfiguration, match=rf"^the source directory {re.escape(str(source))}: '[^']+' .*{why}"):
        shipped(source)


def test_an_ignored_link_is_not_looked_at(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write(source, "score.py")
    (source / "data").symlink_to("/etc", target_is_directory=True)
    write(source, ".mlnbignore", "data\n")
    assert shipped(source) == {"score.py", ".mlnbignore"}


def test_two_folder_links_that_lead_into_each_other_are_a_loop(tmp_path: Path) -> None:
    source = tmp_path / "src"
    write(source, "a/x.py")
    write(source, "c/y.py")
    (source / "a" / "b").symlink_to("../c", target_is_directory=True)
    (source / "c" / "d").symlink_to("../a", target_is_directory=True)
    with pytest.raises(InvalidConfiguration, match="a folder that contains it"):
        shipped(source)
