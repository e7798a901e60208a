"""Reading a request body without ever holding more than the limit.

Bytes are counted while reading: a body with a ``Content-Length`` over the limit is
refused before any of it is read, and a chunked one is read up to one byte past the
limit, never buffered whole (granian's ``wsgi.input.read()`` with no size would collect
all of it first).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BodyRejected", "read_body"]


class BodyRejected(Exception):
    """The body cannot be accepted; ``status`` and ``message`` are the answer to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_body(environ: dict[str, Any], max_bytes: int) -> bytes:
    """Return the request's whole body.

    Args:
        environ: The WSGI environment of the request.
        max_bytes: Largest accepted body.

    Raises:
        BodyRejected: 400 for a malformed ``Content-Length`` or a body that ended before
            it, 413 for a body over ``max_bytes``.
    """
    declared = environ.get("CONTENT_LENGTH")
    length: int | None = None
    if declared:
        try:
            length = int(declared)
        except ValueError:
            raise BodyRejected(400, f"Content-Length {declared!r} is not a number.") from None
        if length > max_bytes:
            raise _too_large(max_bytes)
        if length == 0:
            return b""
    # read(n) returns once n bytes have arrived or the body has ended.
    data: bytes = environ["wsgi.input"].read(length if length is not None else max_bytes + 1)
    if length is None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    if length is not None and len(data) < length:
        raise BodyRejected(400, f"The request body ended after {len(data)} of the {length} bytes "
                                "its Content-Length announced.")
    return data


def _too_large(max_bytes: int) -> BodyRejected:
    return BodyRejected(413, f"Request body is larger than the limit of {max_bytes / 2**20:g} MiB (--max-body-mb).")
