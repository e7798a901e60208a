"""Who may talk to the service: the Host check and the cross-site guard.

* Host check (against DNS rebinding): a page on ``evil.example`` whose name is made to
  resolve to 127.0.0.1 can read the answers of an auth-less loopback service, but its
  requests carry ``Host: evil.example``. A server bound to a loopback address accepts only
  loopback names (``localhost``, ``*.localhost``, ``127.x.x.x``, ``[::1]``, any port) unless
  more are allowed; one bound to any other address (``0.0.0.0`` in containers) accepts any
  name unless a list is given. Loopback names are always accepted.
* Cross-site guard: a browser sends a "simple" request (a ``text/plain`` POST, a GET) from
  any page without asking first, so a page could make ``run()`` execute. Scoring requests
  whose ``Origin`` is neither the service's own nor allowed by the CORS settings, or that
  the browser marks ``Sec-Fetch-Site: cross-site`` / ``same-site``, are refused.
"""

from __future__ import annotations

import ipaddress
from typing import Any

__all__ = ["RequestGuard", "is_loopback_host"]

_CACHE_LIMIT = 256


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or address, without port or brackets) is a loopback one."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    # "[::1]:5001" -> "::1", "example.com:80" -> "example.com", "EXAMPLE.com." -> "example.com"
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0].rstrip(".") if header.count(":") == 1 else header.rstrip(".")


class RequestGuard:
    """Decides whether a request's ``Host`` and ``Origin`` are acceptable.

    Args:
        bind_host: The address the server listens on.
        allowed_hosts: Host names accepted besides the loopback ones; ``*`` for any. Empty
            means: any when ``bind_host`` is not a loopback address, none otherwise.
        cors_origins: The origins the CORS settings allow (``*`` for any).
    """

    def __init__(self, *, bind_host: str, allowed_hosts: tuple[str, ...], cors_origins: tuple[str, ...]) -> None:
        self._any_host = "*" in allowed_hosts or (not allowed_hosts and not is_loopback_host(bind_host))
        self._hosts = frozenset(host.rstrip(".") for host in allowed_hosts)
        self._bind_host = bind_host
        self._cors_any = "*" in cors_origins
        self._cors = frozenset(cors_origins)
        self._host_ok: dict[str, bool] = {}

    def host_error(self, environ: dict[str, Any]) -> str | None:
        """The reason to refuse the request's ``Host`` header, or ``None`` to accept it."""
        if self._any_host:
            return None
        header = environ.get("HTTP_HOST", "")
        known = self._host_ok.get(header)
        if known is None:
            name = _host_name(header)
            known = not header or is_loopback_host(name) or name in self._hosts
            if len(self._host_ok) < _CACHE_LIMIT:
                self._host_ok[header] = known
        if known:
            return None
        return (f"Host {header!r} is not allowed: this service listens on {self._bind_host} and accepts only "
                f"loopback host names; pass --allowed-hosts (MLNB_ALLOWED_HOSTS) to accept others.")

    def cross_site_error(self, environ: dict[str, Any]) -> str | None:
        """The reason to refuse a cross-site scoring request, or ``None`` to accept it."""
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            if self._cors_any or origin in self._cors:
                return None
            host = environ.get("HTTP_HOST", "")
            if host and origin.lower() in (f"http://{host.lower()}", f"https://{host.lower()}"):
                return None  # same origin
            return (f"Cross-origin request from {origin!r} refused; allow the origin with --cors-origins "
                    f"(AML_CORS_ORIGINS) to call this service from its pages.")
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site == "cross-site" or site == "same-site":
            return (f"Request from another site refused (Sec-Fetch-Site: {site}); allow the page's origin with "
                    f"--cors-origins (AML_CORS_ORIGINS).")
        return None
