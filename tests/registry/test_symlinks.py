"""Symlinks in what is registered: the rule of docs/registry.md, case by case.

- a ``model_path`` that is itself a link keeps the link's name and registers the target's content;
- inside a registered folder, a link that resolves inside the folder is registered as what it
  points to (a file's content, a folder's files), under the link's name;
- a link that leaves the folder, dangles, or loops is refused with one line naming it, and
  nothing is registered; so is anything that is not a regular file or folder.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mlnb import Model, Workspace
from mlnb.errors import InvalidConfiguration


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.create(tmp_path / "project")


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "outputs"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx")
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    return folder


def _files(model: Model) -> dict[str, bytes]:
    return {rel: model.workspace.blobs.path(digest).read_bytes() for rel, digest, _ in model.files()}


def _downloaded(model: Model, target: Path) -> dict[str, bytes]:
    root = Path(model.download(target))
    assert not root.is_symlink()
    found = {}
    for path in sorted(root.rglob("*")):
        assert not path.is_symlink(), path
        if path.is_file():
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def _assert_nothing_registered(ws: Workspace) -> None:
    assert Model.list(ws) == []
    assert [p for p in (ws.path / "blobs").rglob("*") if p.is_file()] == []


def test_a_linked_file_keeps_the_links_name(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "ridge-2024-05-01.pkl").write_bytes(b"weights")
    link = tmp_path / "model.pkl"
    link.symlink_to(tmp_path / "runs" / "ridge-2024-05-01.pkl")
    model = Model.register(ws, link, "m")
    assert model.artifact_name == "model.pkl" and not model.is_folder
    assert _files(model) == {"model.pkl": b"weights"}
    assert Path(model.download(tmp_path / "out")).read_bytes() == b"weights"
    assert Path(model.checkout()).name == "model.pkl"


def test_a_linked_folder_keeps_the_links_name(ws: Workspace, folder: Path, tmp_path: Path) -> None:
    link = tmp_path / "latest"
    link.symlink_to(folder, target_is_directory=True)
    model = Model.register(ws, link, "m")
    assert model.artifact_name == "latest" and model.is_folder
    assert _files(model) == {"model.onnx": b"onnx", "sub/vocab.txt": b"a\nb\n"}


def test_the_name_the_user_wrote_is_kept_for_dot_paths(ws: Workspace, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(folder / "sub")
    assert Model.register(ws, ".", "m").artifact_name == "sub"
    assert Model.register(ws, "..", "m").artifact_name == "outputs"


def test_a_link_inside_the_folder_is_registered_as_its_file(ws: Workspace, folder: Path, tmp_path: Path) -> None:
    (folder / "current.onnx").symlink_to("model.onnx")
    (folder / "sub" / "parent.onnx").symlink_to("../model.onnx")
    (folder / "absolute.txt").symlink_to(folder / "sub" / "vocab.txt")
    model = Model.register(ws, folder, "m")
    expected = {
        "absolute.txt": b"a\nb\n",
        "current.onnx": b"onnx",
        "model.onnx": b"onnx",
        "sub/parent.onnx": b"onnx",
        "sub/vocab.txt": b"a\nb\n",
    }
    assert _files(model) == expected
    assert _downloaded(model, tmp_path / "out") == expected


def test_a_linked_folder_inside_the_folder_is_registered_with_its_files(
    ws: Workspace, folder: Path, tmp_path: Path
) -> None:
    (folder / "alias").symlink_to("sub", target_is_directory=True)
    model = Model.register(ws, folder, "m")
    assert _files(model) == {
        "alias/vocab.txt": b"a\nb\n", "model.onnx": b"onnx", "sub/vocab.txt": b"a\nb\n",
    }
    assert _downloaded(model, tmp_path / "out")["alias/vocab.txt"] == b"a\nb\n"


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("passwd", lambda folder: (folder / "passwd").symlink_to("/etc/passwd")),
        ("sub/escape.txt", lambda folder: (folder / "sub" / "escape.txt").symlink_to("../../outside.txt")),
        ("etc", lambda folder: (folder / "etc").symlink_to("/etc", target_is_directory=True)),
        ("sub/up", lambda folder: (folder / "sub" / "up").symlink_to("../..", target_is_directory=True)),
    ],
    ids=["file-absolute", "file-relative", "folder-absolute", "folder-relative"],
)
def test_a_link_that_leaves_the_folder_is_refused(
    ws: Workspace, folder: Path, tmp_path: Path, name: str, make: Callable[[Path], object]
) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    make(folder)
    with pytest.raises(InvalidConfiguration) as error:
        Model.register(ws, folder, "m")
    message = str(error.value)
    assert f"{name!r} is a symlink to " in message and "outside the registered folder" in message
    assert "\n" not in message
    _assert_nothing_registered(ws)


def test_a_dangling_link_is_refused(ws: Workspace, folder: Path) -> None:
    (folder / "sub" / "gone.pkl").symlink_to("nowhere.pkl")
    with pytest.raises(InvalidConfiguration, match=r"'sub/gone.pkl' is a symlink to nowhere.pkl, which does not exist"):
        Model.register(ws, folder, "m")
    _assert_nothing_registered(ws)


def test_a_link_loop_is_refused(ws: Workspace, folder: Path) -> None:
    (folder / "sub" / "loop").symlink_to("..", target_is_directory=True)
    with pytest.raises(InvalidConfiguration, match=r"'sub/loop' is a symlink to .*outputs, a folder that contains it"):
        Model.register(ws, folder, "m")
    (folder / "sub" / "loop").unlink()
    (folder / "a").symlink_to("b")
    (folder / "b").symlink_to("a")
    with pytest.raises(InvalidConfiguration, match=r"'a' is a symlink to b, in a loop of symlinks"):
        Model.register(ws, folder, "m")
    _assert_nothing_registered(ws)


def test_a_pipe_in_the_folder_is_refused(ws: Workspace, folder: Path) -> None:
    os.mkfifo(folder / "sub" / "pipe")
    with pytest.raises(InvalidConfiguration, match=r"'sub/pipe' is not a regular file or folder"):
        Model.register(ws, folder, "m")
    _assert_nothing_registered(ws)


def test_a_device_as_the_model_path_is_refused(ws: Workspace) -> None:
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(InvalidConfiguration, match=r"model_path '/dev/null' is not a regular file or folder"):
        Model.register(ws, "/dev/null", "m")
    _assert_nothing_registered(ws)


def test_a_dangling_model_path_is_refused(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "model.pkl").symlink_to(tmp_path / "nowhere.pkl")
    with pytest.raises(InvalidConfiguration, match=r"model_path .*model.pkl.* does not exist"):
        Model.register(ws, tmp_path / "model.pkl", "m")


def test_a_folder_holding_the_workspace_is_refused(ws: Workspace) -> None:
    project = ws.path.parent
    (project / "model.pkl").write_bytes(b"w")
    with pytest.raises(InvalidConfiguration, match=r"holds the workspace .*\.mlnb.*; register a subfolder"):
        Model.register(ws, project, "m")
    _assert_nothing_registered(ws)


def test_the_blob_store_does_not_follow_a_link(ws: Workspace, tmp_path: Path) -> None:
    """A file swapped for a link after the walk is refused at the copy, not followed."""
    (tmp_path / "swapped.pkl").symlink_to("/etc/passwd")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        ws.blobs.ingest(tmp_path / "swapped.pkl")
    assert list((ws.path / "blobs" / "tmp").iterdir()) == []
