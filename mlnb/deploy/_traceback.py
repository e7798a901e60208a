"""Finding the ``init()`` traceback in a service's log, for the one-line error that ends with it."""

from __future__ import annotations


def last_traceback(logs: str) -> str | None:
    """The last Python traceback in ``logs``, up to its exception line; None when there is none."""
    start = logs.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    lines = logs[start:].splitlines()
    # The traceback ends at its exception line: the first unindented line after the header.
    for index, line in enumerate(lines[1:], start=1):
        if line and not line.startswith(" "):
            return "\n".join(lines[: index + 1])
    return "\n".join(lines)
