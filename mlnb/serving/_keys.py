"""The bearer keys file: one key per line, readable only by the server's own user.

Keys never travel on a command line (``ps``, ``/proc/PID/cmdline`` and ``docker inspect``
show those to anyone) nor in the environment handed to workers: the server reads the file
at start-up, and each worker reads it again when it starts.
"""

from __future__ import annotations

import os
import stat

__all__ = ["SECRETS_DIR", "KeysFileError", "read_keys_file"]

#: Where Docker and Swarm mount secrets (root-owned, mode 0444); Kubernetes can mount there too.
SECRETS_DIR = "/run/secrets/"


class KeysFileError(ValueError):
    """The keys file is missing, unsafe or empty; the message says what to do."""


def read_keys_file(path: str, *, secrets_dir: str = SECRETS_DIR) -> tuple[str, ...]:
    """Read the accepted keys (primary first) from ``path``, refusing an unsafe file.

    A file under ``secrets_dir`` is accepted when no one but its owner can write it; any
    other file must belong to the current user and be unreadable by group and others.

    Args:
        path: The keys file.
        secrets_dir: The folder where an orchestrator mounts secrets (with a final ``/``).

    Returns:
        The keys, in file order; blank lines are skipped, surrounding whitespace stripped.

    Raises:
        KeysFileError: The file is missing, not a regular file, unsafe, unreadable, holds
            no key, or holds a key with whitespace inside.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise KeysFileError(f"keys file {path} does not exist") from None
    except OSError as exc:
        raise KeysFileError(f"keys file {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeysFileError(f"keys file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if os.path.realpath(path).startswith(secrets_dir):
        if mode & 0o022:
            raise KeysFileError(f"keys file {path} is writable by group or others (mode {mode:04o}); "
                                f"mount the secret read-only")
    else:
        if info.st_uid != os.geteuid():
            raise KeysFileError(f"keys file {path} belongs to uid {info.st_uid}, not to this user "
                                f"(uid {os.geteuid()}); write it as this user with mode 0600")
        if mode & 0o077:
            raise KeysFileError(f"keys file {path} is accessible to group or others (mode {mode:04o}); "
                                f"run: chmod 600 {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeysFileError(f"keys file {path} cannot be read: {exc}") from None
    keys = tuple(line.strip() for line in lines if line.strip())
    if not keys:
        raise KeysFileError(f"keys file {path} holds no key; write one key per line (primary, secondary)")
    for number, key in enumerate(keys, start=1):
        if any(char.isspace() for char in key):
            raise KeysFileError(f"key {number} in keys file {path} has whitespace inside; a bearer key cannot")
    return keys
