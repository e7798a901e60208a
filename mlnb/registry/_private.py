"""Owner-only files and folders: how everything in a workspace is created.

The registry database holds service keys and environment variable values, and logs hold
what a service printed; nothing in ``.mlnb`` is for other users of the machine. Folders
are 0700, files 0600 and blobs 0400, set explicitly so the result does not depend on the
umask. Layers above the registry that write into the workspace create their folders and
files through :func:`private_dir` and :func:`open_private`.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600
READ_ONLY_MODE = 0o400


def private_dir(path: Path) -> Path:
    """Create ``path`` as an owner-only (0700) folder, or make an existing folder so.

    Missing parents are created the ordinary way: inside a workspace they are below an
    owner-only folder already.

    Returns:
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not path.is_dir():
            raise
    restrict(path, DIR_MODE)
    return path


def open_private(path: Path, *, append: bool = False) -> BinaryIO:
    """Open ``path`` for writing bytes as an owner-only (0600) file.

    A missing file is created 0600; an existing one is made 0600 and truncated (or, with
    ``append``, written at its end). A symlink is refused (``OSError``), so a link planted
    where a key file goes cannot redirect the write.

    Args:
        path: the file.
        append: write at the end instead of truncating.

    Returns:
        A binary file object; close it (or use ``with``).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
    descriptor = os.open(path, flags, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(descriptor).st_mode) != FILE_MODE:
            os.fchmod(descriptor, FILE_MODE)
        return open(descriptor, "ab" if append else "wb")
    except BaseException:
        os.close(descriptor)
        raise


def restrict(path: Path, mode: int) -> None:
    """Set ``path``'s permission bits to ``mode`` when they differ (one stat when they do not).

    A symlink is left alone: changing it would change what it points to.
    """
    info = os.lstat(path)
    if not stat.S_ISLNK(info.st_mode) and stat.S_IMODE(info.st_mode) != mode:
        os.chmod(path, mode)
