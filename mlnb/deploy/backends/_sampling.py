"""Resource samplers: how much CPU time and memory a running service has used.

A sampler reads, when asked, the service's cumulative CPU time and its current memory;
the profiler asks several times a second (each backend's ``sampler(record)`` picks one) and takes differences, so CPU use over any
window is exact whatever the sampling rate.

- Process backend: psutil over the server's process tree (supervisor and workers).
  Memory is the sum of PSS (proportional set size), so pages the forked workers share are
  counted once, as a container's cgroup would count them.
- Docker backend: the container's cgroup, read the way ``docker stats`` computes it
  (memory = usage minus inactive file cache). When the engine runs on this host, the
  cgroup files are read directly (cheap, any rate); otherwise the engine's stats stream
  is used, which the engine produces once a second.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psutil

from mlnb.errors import ProfileFailed

if TYPE_CHECKING:
    from docker.models.containers import Container


@dataclass(frozen=True)
class Sample:
    """One reading.

    Attributes:
        time: ``time.monotonic()`` when it was taken.
        cpu_seconds: CPU time the service has used so far (user + system, all processes).
        memory_bytes: memory in use now.
    """

    time: float
    cpu_seconds: float
    memory_bytes: int


class Sampler(Protocol):
    """Reads a service's resource use."""

    description: str
    """How the readings are taken, for the profile's details."""

    def read(self) -> Sample | None:
        """A fresh reading, or ``None`` when none is available yet (or the service is gone).

        Raises:
            ProfileFailed: when readings can no longer be taken for another reason (the
                engine's connection broke, say); the profile then fails with it.
        """
        ...

    def close(self) -> None:
        """Release what the sampler holds."""
        ...


class ProcessTreeSampler:
    """psutil over a process and its descendants.

    Args:
        pid: the root process (the scoring server's supervisor).
    """

    description = "psutil over the server's process tree (CPU user+system, memory PSS)"

    def __init__(self, pid: int) -> None:
        self._root = psutil.Process(pid)
        # CPU time of every process seen, kept after it exits, so the total never goes back.
        self._cpu: dict[tuple[int, float], float] = {}

    def read(self) -> Sample | None:
        """Sum CPU time and PSS over the tree now."""
        try:
            processes = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return None
        memory = 0
        for process in processes:
            try:
                with process.oneshot():
                    times = process.cpu_times()
                    self._cpu[(process.pid, process.create_time())] = times.user + times.system
                    memory += _proportional_memory(process)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return Sample(time.monotonic(), sum(self._cpu.values()), memory)

    def close(self) -> None:
        """Nothing to release."""


class CgroupSampler:
    """A container's cgroup files, read directly (the engine runs on this host).

    Args:
        memory_dir: the cgroup folder holding the memory controller's files.
        cpu_dir: the cgroup folder holding the CPU accounting files.
        version: 1 or 2.
    """

    def __init__(self, memory_dir: Path, cpu_dir: Path, version: int) -> None:
        self._memory_dir = memory_dir
        self._cpu_dir = cpu_dir
        self._version = version
        self.description = f"the container's cgroup v{version} files, as `docker stats` computes them"

    @classmethod
    def for_pid(cls, pid: int) -> CgroupSampler | None:
        """The sampler for the cgroup of host process ``pid``, or ``None`` when its files are not readable here."""
        try:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        except OSError:
            return None
        paths: dict[str, str] = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path.lstrip("/")
        root = Path("/sys/fs/cgroup")
        if "memory" in paths and "cpuacct" in paths:
            memory_dir = root / "memory" / paths["memory"]
            cpu_dir = next((root / name / paths["cpuacct"] for name in ("cpuacct", "cpu,cpuacct") if (root / name).exists()), None)
            candidate = cls(memory_dir, cpu_dir, 1) if cpu_dir else None
        elif "" in paths:
            candidate = cls(root / paths[""], root / paths[""], 2)
        else:
            candidate = None
        return candidate if candidate is not None and candidate.read() is not None else None

    def read(self) -> Sample | None:
        """Read CPU usage and memory (usage minus inactive file cache) now."""
        try:
            if self._version == 1:
                cpu_seconds = int((self._cpu_dir / "cpuacct.usage").read_text()) / 1e9
                usage = int((self._memory_dir / "memory.usage_in_bytes").read_text())
                inactive = _stat(self._memory_dir / "memory.stat", "total_inactive_file")
            else:
                cpu_seconds = _stat(self._cpu_dir / "cpu.stat", "usage_usec") / 1e6
                usage = int((self._memory_dir / "memory.current").read_text())
                inactive = _stat(self._memory_dir / "memory.stat", "inactive_file")
        except (OSError, ValueError):
            return None
        return Sample(time.monotonic(), cpu_seconds, usage - inactive if inactive < usage else usage)

    def close(self) -> None:
        """Nothing to release."""


class DockerStatsSampler:
    """The Docker engine's stats stream (one reading a second), consumed in a thread.

    The stream's expected ends are quiet: the container is removed (the engine ends the
    stream), was already gone, or :meth:`close` was called. Any other end (a dropped
    connection, an engine error, a document that cannot be read) is kept and raised by
    :meth:`read`.

    Args:
        container: the running container.
    """

    description = "the Docker engine's stats stream (about 1 reading a second)"

    def __init__(self, container: Container) -> None:
        import docker

        # A client of its own, closed by close(); the stream itself ends at its next
        # document (within a second) once _closed is set.
        self._api = docker.from_env().api
        self._id = container.id
        self._latest: Sample | None = None
        self._taken: Sample | None = None
        self._closed = False
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._follow, name="mlnb-docker-stats", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        from docker.errors import NotFound

        try:
            for stats in self._api.stats(self._id, stream=True, decode=True):
                if self._closed:
                    return
                sample = stats_sample(stats)
                if sample is not None:
                    self._latest = sample
        except NotFound:  # the container was gone before the stream started
            return
        except Exception as error:  # kept for read(), unless close() caused it
            if not self._closed:
                self._error = error

    def read(self) -> Sample | None:
        """The latest reading from the stream, once; ``None`` until a new one arrives.

        Raises:
            ProfileFailed: when the stream broke while the container was still there.
        """
        if self._error is not None:
            raise ProfileFailed(
                f"the Docker stats stream of container {self._id[:12]} failed "
                f"({type(self._error).__name__}: {self._error}); check the engine and profile again"
            ) from self._error
        latest = self._latest
        if latest is None or latest is self._taken:
            return None
        self._taken = latest
        return latest

    def close(self) -> None:
        """Stop following the stream."""
        self._closed = True
        self._api.close()


def stats_sample(stats: dict[str, Any]) -> Sample | None:
    """A :class:`Sample` from one Docker stats document, computed as ``docker stats`` does."""
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    cpu = (stats.get("cpu_stats") or {}).get("cpu_usage", {}).get("total_usage")
    if usage is None or cpu is None:
        return None
    detail = memory.get("stats") or {}
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return Sample(time.monotonic(), cpu / 1e9, usage - inactive if inactive < usage else usage)


def _proportional_memory(process: psutil.Process) -> int:
    try:
        return int(process.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(process.memory_info().rss)


def _stat(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0
