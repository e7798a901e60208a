"""Probes for the reliability and Docker switch tests (a helper module, not a test module).

:class:`RequestLoop` is the client of the outage measurements: one request every 20 ms on a
fresh connection, as a plain client (``curl``, ``requests`` without a session) sends them.
:func:`server_leaders` finds the scoring servers that serve a service's folder, so a test can
say "exactly one server" and "none left" without trusting the service record.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import psutil


class RequestLoop:
    """POST ``body`` to ``127.0.0.1:port/score`` every ``interval`` seconds, in a thread.

    Args:
        port: the service's port.
        body: the request body (JSON).
        interval: seconds between the starts of two requests.
        headers: extra headers (the key, when auth is on).
        retry_refused: retry a refused connection once, after ``interval``, as a client
            that tolerates a port handover does.
    """

    def __init__(self, port: int, body: bytes, *, interval: float = 0.02, headers: dict[str, str] | None = None,
                 retry_refused: bool = False) -> None:
        self.port, self.body, self.interval = port, body, interval
        self.headers = {"Content-Type": "application/json", **(headers or {})}
        self.retry_refused = retry_refused
        self.ok = 0
        self.failures: list[str] = []
        self.longest_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> RequestLoop:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(30)

    def _send(self) -> str | None:
        """One request on a fresh connection; None when it got a 200, else what went wrong."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("POST", "/score", body=self.body, headers=self.headers)
            response = connection.getresponse()
            response.read()
            return None if response.status == 200 else f"HTTP {response.status}"
        except ConnectionRefusedError:
            return "refused"
        except OSError as error:
            return f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    def _loop(self) -> None:
        last_ok = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            problem = self._send()
            if problem == "refused" and self.retry_refused:
                time.sleep(self.interval)
                problem = self._send()
            now = time.monotonic()
            if problem is None:
                self.ok += 1
                self.longest_gap = max(self.longest_gap, now - last_ok)
                last_ok = now
            else:
                self.failures.append(problem)
            self._stop.wait(max(0.0, self.interval - (now - started)))


def server_leaders(folder: Path) -> list[psutil.Process]:
    """The scoring servers (not their workers) whose command line names a path in ``folder``."""
    marker = str(folder)
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["pid", "ppid", "cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if "mlnb.serving" in cmdline and any(marker in part for part in cmdline):
            found[process.pid] = process
    return [process for process in found.values() if process.info["ppid"] not in found]


def answers(port: int) -> bool:
    """Whether anything accepts a TCP connection on ``127.0.0.1:port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.connect()
    except OSError:
        return False
    finally:
        connection.close()
    return True


def wait_for(condition: Callable[[], object], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` seconds pass; return whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
