"""Helpers for the headless widget tests: bounded polling instead of sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def _wait_until(condition: Callable[[], object], *, timeout: float = 60, what: str = "condition") -> None:
    """Poll ``condition`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture()
def wait_until() -> Callable[..., None]:
    """``wait_until(condition, timeout=60, what="...")``: bounded polling."""
    return _wait_until
