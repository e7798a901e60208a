"""One deployment at a time per service name: a lock file in the workspace.

Every change to a service (deploy, update, reload, key change, delete) holds the lock of
its name, so two kernels, two processes or two threads cannot interleave their steps
(and leave two servers, or a server no record names). The lock is an advisory file lock
(``filelock``), released by the operating system when its holder dies, so a crashed kernel
never leaves a service locked.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from mlnb.errors import ServiceBusy
from mlnb.registry import Workspace, private_dir

_POLL_SECONDS = 0.1


class ServiceLock:
    """The lock of one service name.

    Args:
        workspace: the workspace the service belongs to.
        name: the service name.
    """

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.name = name
        folder = private_dir(workspace.path / "locks")
        self.path: Path = folder / f"{name}.lock"
        self._lock = FileLock(str(self.path), thread_local=False)

    def acquire(self, *, wait: float = 0.0) -> None:
        """Take the lock, waiting at most ``wait`` seconds for it.

        Raises:
            ServiceBusy: when another deploy, update, reload or delete of the service runs.
        """
        try:
            self._lock.acquire(timeout=wait, poll_interval=_POLL_SECONDS)
        except Timeout:
            raise ServiceBusy(
                f"service {self.name!r} is busy: another deploy, update, reload or delete of it is running "
                "(in this or another process); try again when it has finished"
            ) from None

    def wait(self, cancel: threading.Event) -> bool:
        """Take the lock when it is free; give up (return False) once ``cancel`` is set."""
        while not cancel.is_set():
            try:
                self._lock.acquire(timeout=_POLL_SECONDS)
            except Timeout:
                continue
            return True
        return False

    def release(self) -> None:
        """Release the lock."""
        self._lock.release()

    def __enter__(self) -> ServiceLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()
