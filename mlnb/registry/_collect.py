"""What a registration reads: the files of a ``model_path``, and the rule for symlinks.

- A ``model_path`` that is itself a symlink keeps the link's name (the name the user wrote)
  and registers the target's content.
- Inside a registered folder, a symlink that resolves inside the folder is registered as
  what it points to, under the link's name: a file's content, or a folder's files.
- A symlink that leaves the folder, dangles, or leads back into a folder that contains it
  is refused with one line naming it: links are never followed out of the folder, so a
  link to ``/etc/passwd`` cannot land in the registry, a download or an image.
- Anything that is not a regular file or a folder (a pipe, a socket, a device) is refused.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from mlnb.errors import InvalidConfiguration


@dataclass(frozen=True)
class Collected:
    """The files a registration will copy.

    Attributes:
        artifact_name: the registered file's or folder's name.
        is_folder: whether a folder is registered.
        files: ``(relative path, real path)`` pairs sorted by relative path; each real path
            is a regular file (for a folder, inside the folder), never a symlink.
    """

    artifact_name: str
    is_folder: bool
    files: list[tuple[str, Path]]


def collect(model_path: Path, *, workspace_path: Path) -> Collected:
    """List what registering ``model_path`` copies, applying the symlink rule.

    Args:
        model_path: the file or folder, as the user gave it.
        workspace_path: the workspace's ``.mlnb`` folder, which a registered folder must
            not contain (its database holds service keys).

    Raises:
        InvalidConfiguration: naming the first entry the rule refuses.
    """
    name = Path(os.path.abspath(model_path)).name  # lexical: ".", ".." and links keep the written name
    try:
        real = model_path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidConfiguration(
            f"model_path {str(model_path)!r} does not exist; pass a file or a folder"
        ) from None
    if not name:
        raise InvalidConfiguration(f"model_path {str(model_path)!r} has no name to register it under; pass a subfolder")
    mode = real.stat().st_mode
    if stat.S_ISREG(mode):
        return Collected(name, False, [(name, real)])
    if not stat.S_ISDIR(mode):
        raise InvalidConfiguration(
            f"model_path {str(model_path)!r} is not a regular file or folder; pass a file or a folder"
        )
    workspace = workspace_path.resolve()
    if workspace == real or workspace.is_relative_to(real):
        raise InvalidConfiguration(
            f"model_path {str(model_path)!r} holds the workspace {str(workspace)!r}; register a subfolder "
            "(e.g. outputs/) instead"
        )
    files: list[tuple[str, Path]] = []
    _walk(_Folder(model_path, real), real, "", (real,), files)
    return Collected(name, True, sorted(files))


@dataclass(frozen=True)
class _Folder:
    given: Path  # as the user wrote it, for messages
    root: Path  # resolved


def _walk(folder: _Folder, directory: Path, prefix: str, chain: tuple[Path, ...], files: list[tuple[str, Path]]) -> None:
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            relpath = prefix + entry.name
            path = Path(entry.path)
            if entry.is_symlink():
                target = _link_target(folder, path, relpath)
                if target.is_dir():
                    if target in chain:
                        raise _refused(folder, relpath, f"is a symlink to {target}, a folder that contains it; "
                                       "a loop cannot be registered")
                    _walk(folder, target, relpath + "/", (*chain, target), files)
                elif stat.S_ISREG(target.stat().st_mode):
                    files.append((relpath, target))
                else:
                    raise _refused(folder, relpath, "is not a regular file or folder; remove it from the folder")
            elif entry.is_dir(follow_symlinks=False):
                _walk(folder, path, relpath + "/", (*chain, path), files)
            elif entry.is_file(follow_symlinks=False):
                files.append((relpath, path))
            else:
                raise _refused(folder, relpath, "is not a regular file or folder; remove it from the folder")


class SymlinkRefused(ValueError):
    """A symlink the rule refuses; the message says why, as ``is a symlink to …; <what to do>``."""


def symlink_target(link: Path, root: Path, *, folder_kind: str) -> Path:
    """The resolved target of the symlink ``link``, which must exist inside ``root``.

    Args:
        link: the symlink.
        root: the resolved folder the link must stay inside.
        folder_kind: how messages name ``root`` (``"the registered folder"``).

    Raises:
        SymlinkRefused: when the link dangles, loops or leaves ``root``.
    """
    written = os.readlink(link)
    try:
        target = Path(os.path.realpath(link, strict=True))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SymlinkRefused(f"is a symlink to {written}, in a loop of symlinks; remove the loop") from None
        raise SymlinkRefused(f"is a symlink to {written}, which does not exist; remove the link or restore its target") from None
    if not target.is_relative_to(root):
        raise SymlinkRefused(f"is a symlink to {written}, outside {folder_kind}; copy what it points to into the folder, "
                             "or remove the link")
    return target


def _link_target(folder: _Folder, link: Path, relpath: str) -> Path:
    try:
        return symlink_target(link, folder.root, folder_kind="the registered folder")
    except SymlinkRefused as refusal:
        raise _refused(folder, relpath, str(refusal)) from None


def _refused(folder: _Folder, relpath: str, why: str) -> InvalidConfiguration:
    return InvalidConfiguration(f"cannot register {str(folder.given)!r}: {relpath!r} {why}")
