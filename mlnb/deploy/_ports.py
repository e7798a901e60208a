"""Host ports for services: pick a free one, or check that a requested one is free."""

from __future__ import annotations

import socket
from collections.abc import Collection

from mlnb.errors import PortInUse

HOST = "127.0.0.1"


def is_free(port: int) -> bool:
    """Whether nothing listens on ``127.0.0.1:port`` and it can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def choose_port(requested: int | None, *, reserved: Collection[int] = ()) -> int:
    """Return ``requested`` if it is free, or a free port when ``requested`` is None.

    Args:
        requested: the port the user asked for, or None for any free port.
        reserved: ports recorded for other services (they may be starting and not yet bound).

    Raises:
        PortInUse: when the requested port is taken.
    """
    if requested is not None:
        if requested in reserved or not is_free(requested):
            raise PortInUse(
                f"port {requested} is in use by another process; choose another port, or leave port out of "
                "LocalWebservice.deploy_configuration(...) to pick a free one"
            )
        return requested
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((HOST, 0))
            port = int(probe.getsockname()[1])
        if port not in reserved:
            return port
    raise PortInUse("found no free port on 127.0.0.1; stop some services and try again")
