"""Service links a browser can follow when Jupyter runs on another machine (JupyterHub, Binder).

There the browser cannot reach the kernel's ``127.0.0.1:PORT``. When jupyter-server-proxy is
importable in the kernel's environment and the kernel runs under a Jupyter server, a link to
``http://127.0.0.1:PORT/path`` becomes ``<base_url>proxy/PORT/path``, which that server
forwards to the service. Only links change: the kernel itself (``requests``, the panels)
keeps talking to ``127.0.0.1``.

The server's base URL is ``JUPYTERHUB_SERVICE_PREFIX`` under JupyterHub (Binder included),
else the ``base_url`` of the running Jupyter server that started this kernel (the one whose
process id is the kernel's ``JPY_PARENT_PID``).
"""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import urlsplit

__all__ = ["browser_link", "jupyter_base_url"]

_LOCAL = ("127.0.0.1", "localhost")


def jupyter_base_url() -> str | None:
    """The base URL (ending in ``/``) of the proxying Jupyter server this kernel runs under, or ``None``."""
    if importlib.util.find_spec("jupyter_server_proxy") is None:
        return None
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return prefix.rstrip("/") + "/"
    parent = os.environ.get("JPY_PARENT_PID", "")
    if not parent.isdigit():
        return None
    from jupyter_server.serverapp import list_running_servers  # only where the proxy is installed

    for server in list_running_servers():
        if server.get("pid") == int(parent):
            return str(server.get("base_url") or "/").rstrip("/") + "/"
    return None


def browser_link(uri: str) -> str:
    """The address a browser should open for ``uri``, a service on this machine's loopback.

    Args:
        uri: for example ``http://127.0.0.1:8890/score``.

    Returns:
        ``uri`` itself, or ``<base_url>proxy/8890/score`` under a proxying Jupyter server.
    """
    parts = urlsplit(uri)
    if parts.hostname not in _LOCAL or parts.port is None:
        return uri
    base = jupyter_base_url()
    if base is None:
        return uri
    return f"{base}proxy/{parts.port}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
