"""``AMLRequest``, ``AMLResponse`` and ``@rawhttp``: the raw-HTTP side of the entry-script contract.

These are mlnb's own, dependency-free versions of the classes Azure ML ships in
``azureml.contrib.services``. The ``azureml`` compatibility shim re-exports them, so
Azure entry scripts run unchanged; scripts may also import them from here directly.
The server accepts any response object with ``status_code``, ``headers`` and
``get_data()``, so the real (Flask-based) classes work too where they are installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

__all__ = ["AMLRequest", "AMLResponse", "Headers", "QueryArgs", "is_rawhttp", "rawhttp"]

_F = TypeVar("_F", bound=Callable[..., Any])

#: Module-level flag, as in Azure's ``aml_request`` module: set once ``@rawhttp`` is applied.
_rawHttpRequested = False
_RAWHTTP_ATTR = "__mlnb_rawhttp__"


def rawhttp(func: _F) -> _F:
    """Mark ``run`` as wanting the raw request (an :class:`AMLRequest`) instead of parsed input.

    Example::

        @rawhttp
        def run(request):
            return AMLResponse(request.get_data(), 200)
    """
    global _rawHttpRequested
    _rawHttpRequested = True
    setattr(func, _RAWHTTP_ATTR, True)
    return func


def is_rawhttp(func: Callable[..., Any]) -> bool:
    """Return whether ``func`` was decorated with this module's :func:`rawhttp`."""
    return bool(getattr(func, _RAWHTTP_ATTR, False))


class Headers(Mapping[str, str]):
    """Case-insensitive HTTP headers that keep the first spelling of each name."""

    def __init__(self, items: Mapping[str, str] | list[tuple[str, str]] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for key, value in pairs:
            self[key] = value

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __setitem__(self, key: str, value: str) -> None:
        self._items[key.lower()] = (key, str(value))

    def __delitem__(self, key: str) -> None:
        del self._items[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class QueryArgs(dict[str, str]):
    """Query parameters: ``args["k"]`` is the first value, ``getlist("k")`` all of them."""

    def __init__(self, query_string: str) -> None:
        pairs = parse_qsl(query_string, keep_blank_values=True)
        super().__init__()
        self._lists: dict[str, list[str]] = {}
        for key, value in pairs:
            self._lists.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getlist(self, key: str) -> list[str]:
        """Return every value given for ``key`` (empty when absent)."""
        return list(self._lists.get(key, []))


class AMLRequest:
    """The request handed to a ``@rawhttp`` ``run()``; a subset of Flask's ``Request``.

    Args:
        environ: The WSGI environment of the request.
        body: The request body, already read.
    """

    def __init__(self, environ: Mapping[str, Any], body: bytes) -> None:
        self.environ = environ
        self.method: str = environ.get("REQUEST_METHOD", "GET")
        self.path: str = environ.get("PATH_INFO", "/")
        self.query_string: bytes = environ.get("QUERY_STRING", "").encode("latin-1")
        self.args = QueryArgs(environ.get("QUERY_STRING", ""))
        self.headers = Headers(_headers_from_environ(environ))
        self.data: bytes = body
        self.remote_addr: str | None = environ.get("REMOTE_ADDR")

    @property
    def full_path(self) -> str:
        """Path and query string, as Flask spells it (``/score?`` when there is no query)."""
        return f"{self.path}?{self.query_string.decode('latin-1')}"

    @property
    def url(self) -> str:
        """The full URL of the request."""
        host = self.headers.get("Host", "localhost")
        query = self.query_string.decode("latin-1")
        return f"{self.environ.get('wsgi.url_scheme', 'http')}://{host}{self.path}" + (f"?{query}" if query else "")

    @property
    def content_type(self) -> str | None:
        """The raw ``Content-Type`` header."""
        return self.headers.get("Content-Type")

    @property
    def mimetype(self) -> str:
        """The media type of the body, lower-cased and without parameters."""
        return (self.content_type or "").split(";", 1)[0].strip().lower()

    @property
    def content_length(self) -> int:
        """The size of the body in bytes."""
        return len(self.data)

    @property
    def is_json(self) -> bool:
        """Whether the body is declared as JSON."""
        mimetype = self.mimetype
        return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))

    @property
    def form(self) -> QueryArgs:
        """URL-encoded form fields (empty for other content types)."""
        if self.mimetype != "application/x-www-form-urlencoded":
            return QueryArgs("")
        return QueryArgs(self.data.decode("utf-8", "replace"))

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or ``None`` when it is not declared as JSON."""
        return self.get_json(silent=True)

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> bytes | str:
        """Return the body, as bytes or (``as_text=True``) decoded as UTF-8."""
        return self.data.decode("utf-8", "replace") if as_text else self.data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """Parse the body as JSON.

        Args:
            force: Parse even when the content type is not JSON.
            silent: Return ``None`` instead of raising when parsing fails.
            cache: Accepted for Flask compatibility.

        Raises:
            ValueError: The body is not valid JSON (unless ``silent``).
        """
        if not (force or self.is_json):
            return None
        try:
            return json.loads(self.data)
        except ValueError:
            if silent:
                return None
            raise

    def __repr__(self) -> str:
        return f"<AMLRequest {self.method} {self.full_path!r}>"


class AMLResponse:
    """A response a ``@rawhttp`` ``run()`` may return: body, status and headers.

    Args:
        message: The body: ``bytes`` and ``str`` are sent as they are; with
            ``json_str=True`` (or for any other type) it is serialised as JSON.
        status_code: The HTTP status.
        response_headers: Extra headers, e.g. ``Access-Control-Allow-Origin``.
        json_str: Serialise ``message`` as JSON and send ``application/json``.
        run_function_failed: Mark the answer as a failure of ``run()``: the server adds
            ``x-ms-run-function-failed: True``, as azmlinfsrv does.

    Example::

        resp = AMLResponse(body, 200)
        resp.headers["Access-Control-Allow-Origin"] = "http://www.example.com"
    """

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: Mapping[str, str] = {},  # Azure's default; only read, never changed
        json_str: bool = False,
        run_function_failed: bool = False,
    ) -> None:
        self.status_code = int(status_code)
        self.run_function_failed = bool(run_function_failed)
        self.headers = Headers()
        if json_str or not isinstance(message, (bytes, bytearray, str)):
            self._body = json.dumps(message).encode("utf-8")
            self.headers["Content-Type"] = "application/json"
        else:
            self._body = message.encode("utf-8") if isinstance(message, str) else bytes(message)
            self.headers["Content-Type"] = "text/html; charset=utf-8"
        for key, value in response_headers.items():
            self.headers[key] = value
        if self.run_function_failed:
            self.headers["x-ms-run-function-failed"] = "True"

    @property
    def data(self) -> bytes:
        """The body as bytes."""
        return self._body

    def get_data(self, as_text: bool = False) -> bytes | str:
        """Return the body, as bytes or decoded as UTF-8."""
        return self._body.decode("utf-8", "replace") if as_text else self._body

    def __repr__(self) -> str:
        return f"<AMLResponse {self.status_code} {len(self._body)} bytes>"


def _headers_from_environ(environ: Mapping[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-").title(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            pairs.append((key.replace("_", "-").title(), value))
    return pairs
