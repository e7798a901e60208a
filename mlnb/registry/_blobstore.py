"""A content-addressed store of files: each file is kept once, under its SHA-256.

Blobs are written through a temporary file and renamed into place, so a reader never
sees half a blob and an interrupted write leaves, at worst, an unreferenced temporary
file. Blobs are read-only: checkouts hard-link them, and a writable hard link would let
an edit of a checkout corrupt every model that shares the content. They are also
owner-only (0400, in 0700 folders): a model is the user's data.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from pathlib import Path

from mlnb.registry._private import READ_ONLY_MODE, open_private, private_dir, restrict

_CHUNK = 1 << 20


class BlobStore:
    """Files addressed by the hex SHA-256 of their content.

    Args:
        root: the folder holding the blobs (created when missing).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = private_dir(root / "tmp")

    def path(self, digest: str) -> Path:
        """Return where the blob with this digest lives (whether or not it exists)."""
        return self.root / digest[:2] / digest

    def ingest(self, source: Path) -> tuple[str, int, Path]:
        """Copy a file into a temporary blob, hashing it in the same pass.

        The copy is not yet visible under its digest: call :meth:`commit` (under the
        workspace lock) to put it in place, or :meth:`discard` to drop it.

        Args:
            source: a regular file; a symlink is refused (``OSError``, ``ELOOP``).

        Returns:
            The digest, the size in bytes and the temporary file's path.
        """
        tmp = self._tmp / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        size = 0
        # O_NOFOLLOW: the registry hands over resolved paths; a file swapped for a symlink
        # since then is refused rather than followed.
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            with open(descriptor, "rb") as src, open_private(tmp) as dst:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest.hexdigest(), size, tmp

    def commit(self, digest: str, tmp: Path) -> None:
        """Move an ingested temporary file into place (a no-op copy if the blob exists)."""
        target = self.path(digest)
        if target.exists():
            tmp.unlink(missing_ok=True)
            return
        private_dir(target.parent)
        os.chmod(tmp, READ_ONLY_MODE)
        os.replace(tmp, target)

    @staticmethod
    def discard(tmp: Path) -> None:
        """Drop a temporary file that will not be committed."""
        tmp.unlink(missing_ok=True)

    def remove(self, digest: str) -> None:
        """Delete a blob; missing blobs are ignored."""
        self.path(digest).unlink(missing_ok=True)

    def place(self, digest: str, target: Path, *, writable: bool = False) -> None:
        """Put the blob's content at ``target``.

        Args:
            digest: the blob to place.
            target: the new file's path; its folder must exist.
            writable: make an independent, writable copy (for files handed to the user,
                with the user's umask); otherwise hard-link where the file system allows,
                which is instant, or copy, read-only and owner-only like the blob itself.
        """
        source = self.path(digest)
        if not writable:
            try:
                os.link(source, target)
                return
            except OSError:
                pass  # another file system, or links not supported: fall back to a copy
        shutil.copyfile(source, target)
        if not writable:
            restrict(target, READ_ONLY_MODE)
