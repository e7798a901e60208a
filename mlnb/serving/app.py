"""The application every worker runs: routes, auth, CORS, limits and error bodies.

Routes: ``GET /`` (liveness), ``GET /ready`` (readiness), ``POST|GET|OPTIONS /score``,
``GET /swagger.json?version=2|3``, ``GET /metrics`` (unless metrics are off). Errors are
always JSON ``{"message": ...}``, including an unexpected exception in the server itself
(500). Everything that can be computed once (keys, limits, status lines, swagger documents) is.

:meth:`ScoringApp.answer` works out an answer in steps: it yields the ``run()`` call to make
(at most once) and resumes when that call is done, so the same logic runs as a WSGI app
(``__call__``, waiting on a thread) and under the RSGI front (``mlnb/serving/_rsgi.py``,
waiting on the event loop).
"""

from __future__ import annotations

import hmac
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

import orjson

from mlnb.serving._body import BodyRejected, read_body
from mlnb.serving._guard import RequestGuard
from mlnb.serving.amlhttp import AMLRequest, Headers, _headers_from_environ
from mlnb.serving.entry_script import InputMode
from mlnb.serving.observe import BODY_KEY, RUN_MS_KEY, Observer
from mlnb.serving.schema import InputError
from mlnb.serving.scorer import Call, Scorer, ScoringTimeout, WorkerRestarting
from mlnb.serving.settings import Settings
from mlnb.serving.swagger import build_swagger

__all__ = ["Answer", "ScoringApp"]

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_Reply = tuple[int, list[tuple[str, str]], bytes]
#: An answer worked out in steps: yields the ``run()`` call to make, returns status, headers, body.
Answer = Generator[Call, None, _Reply]

_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}
_JSON = ("Content-Type", "application/json")
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_SCORE_METHODS = "GET, POST, OPTIONS"
_EXPOSED = "x-ms-request-id, x-request-id, x-ms-run-fn-exec-ms, x-ms-run-function-failed"
_DEFAULT_ALLOWED_HEADERS = "Authorization, Content-Type, x-request-id, x-ms-request-id"
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_CLOSE = ("Connection", "close")


def _error(status: int, message: str, *extra: tuple[str, str]) -> _Reply:
    return status, [_JSON, *extra], orjson.dumps({"message": message})


def _is_json_type(content_type: str) -> bool:
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype in ("application/json", "text/json") or (
        mimetype.startswith("application/") and mimetype.endswith("+json"))


def _json_default(value: Any) -> Any:
    # pandas and numpy scalars/containers that orjson does not handle natively.
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and hasattr(value, "columns"):
        return to_dict(orient="records")
    for method in ("tolist", "item"):
        convert = getattr(value, method, None)
        if convert is not None:
            return convert()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _ExitAfterSend:
    """A response body that makes an abandoned worker exit once it has been sent."""

    def __init__(self, body: bytes, scorer: Scorer) -> None:
        self._body = body
        self._scorer = scorer

    def __iter__(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        self._scorer.exit_after_response()


class ScoringApp:
    """The app of one worker: a WSGI callable, and :meth:`answer` for other fronts.

    Args:
        settings: The server settings.
        scorer: The worker's scoring thread (already started).
        keys: The accepted bearer keys; empty disables auth.
    """

    def __init__(self, settings: Settings, scorer: Scorer, *, keys: tuple[str, ...] = ()) -> None:
        self._settings = settings
        self._scorer = scorer
        self._keys = tuple(key.encode("utf-8") for key in keys)
        self._max_body = int(settings.max_body_mb * 1024 * 1024)
        self._guard = RequestGuard(bind_host=settings.host, allowed_hosts=settings.allowed_hosts,
                                   cors_origins=settings.cors_origins)
        self._access_log = settings.access_log
        self._timeout_s = settings.timeout_ms / 1000.0
        self._cors_any = "*" in settings.cors_origins
        self._cors_origins = frozenset(settings.cors_origins)
        self._swagger: dict[int, bytes] = {}
        self._routes: dict[str, Callable[[dict[str, Any], str], _Reply] | None] = {
            "/score": None,  # answered in steps (_score)
            "/": self._health,
            "/ready": self._ready,
            "/swagger.json": self._swagger_json,
        }
        # monitoring (docs/monitoring.md)
        if settings.metrics:
            self._routes["/metrics"] = self._metrics
        self._observer = Observer.from_settings(settings, routes=self._routes, ready=scorer.ready)
        *others, last = sorted(self._routes)
        self._not_found = f"routes are {', '.join(others)} and {last}."

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        steps = self.answer(environ)
        try:
            call = next(steps)
            try:
                self._scorer.call(call, self._timeout_s)
            except (ScoringTimeout, WorkerRestarting) as exc:
                steps.throw(exc)
            else:
                next(steps)
            raise AssertionError("answer() yields one call at most")
        except StopIteration as stop:
            status, headers, body = stop.value
        start_response(_STATUS_LINES.get(status) or f"{status} Unknown", headers)
        if status == 504 and self._scorer.abandoned:
            return _ExitAfterSend(body, self._scorer)
        return [body]

    def answer(self, environ: dict[str, Any]) -> Answer:
        """Work out the answer to a request, in steps.

        Yields the ``run()`` call to make, at most once: the caller submits it to the scorer
        and resumes the generator once it is done, or throws :class:`ScoringTimeout` or
        :class:`WorkerRestarting` into it. Before ``init()`` has returned, a ``/score``
        request blocks in here until it has (up to the scoring timeout).

        Args:
            environ: The request's WSGI environ.

        Returns:
            Status, headers (``Content-Length`` included) and body.
        """
        start = time.perf_counter()
        observer = self._observer
        started = observer.begin() if observer is not None else 0.0
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        known = path in self._routes
        refused = self._guard.host_error(environ)
        try:
            if refused is not None:
                status, headers, body = _error(421, refused)
            elif not known:
                status, headers, body = _error(404, f"No route {path!r}; {self._not_found}")
            else:
                route = self._routes[path]
                if route is None:
                    status, headers, body = yield from self._score(environ, method)
                else:
                    status, headers, body = route(environ, method)
        except Exception as exc:  # a bug here must still answer JSON, and be logged
            traceback.print_exc()
            status, headers, body = _error(500, f"The server failed on this request: {type(exc).__name__}: {exc}")
        request_id = environ.get("HTTP_X_MS_REQUEST_ID") or str(uuid.uuid4())
        headers.append(("x-ms-request-id", request_id))
        headers.append(("x-request-id", environ.get("HTTP_X_REQUEST_ID") or request_id))
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and (self._cors_any or origin in self._cors_origins):
            if not any(name.lower() == "access-control-allow-origin" for name, _ in headers):
                headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Access-Control-Expose-Headers", _EXPOSED))
            headers.append(("Vary", "Origin"))
        headers.append(("Content-Length", str(len(body))))
        if observer is not None:
            observer.end(environ, path, status, body, request_id, started)
        if self._access_log:
            _log_access(method, path, status, start)
        return status, headers, body

    def _health(self, environ: dict[str, Any], method: str) -> _Reply:
        if method not in ("GET", "HEAD"):
            return _error(405, f"{method} is not allowed on /; use GET.", ("Allow", "GET, HEAD"))
        return 200, [_TEXT], b"Healthy"

    def _ready(self, environ: dict[str, Any], method: str) -> _Reply:
        if method not in ("GET", "HEAD"):
            return _error(405, f"{method} is not allowed on /ready; use GET.", ("Allow", "GET, HEAD"))
        if self._scorer.abandoned:
            return _error(503, "This worker is restarting after a scoring timeout.", ("Retry-After", "1"))
        if not self._scorer.ready.is_set():
            return _error(503, "init() has not finished yet.", ("Retry-After", "1"))
        return 200, [_TEXT], b"Ready"

    def _swagger_json(self, environ: dict[str, Any], method: str) -> _Reply:
        if method not in ("GET", "HEAD"):
            return _error(405, f"{method} is not allowed on /swagger.json; use GET.", ("Allow", "GET, HEAD"))
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        version = query.get("version", "2")
        if version not in ("2", "3"):
            return _error(400, f"Unsupported swagger version {version!r}; use version=2 or version=3.")
        if not self._scorer.ready.is_set():
            return _error(503, "init() has not finished yet; the schema is not known.", ("Retry-After", "1"))
        document = self._swagger.get(int(version))
        if document is None:
            script = self._scorer.script
            assert script is not None  # set before ready
            document = orjson.dumps(build_swagger(int(version), title=self._settings.service_name,
                                                  schema=script.schema, secured=bool(self._keys),
                                                  metrics=self._settings.metrics))
            self._swagger[int(version)] = document
        return 200, [_JSON], document

    def _authorized(self, environ: dict[str, Any]) -> bool:
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        given = token.strip().encode("utf-8") if scheme.lower() == "bearer" else b""
        # Compare with every key, without stopping early, so timing reveals nothing.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(given, key)
        return matched

    def _score(self, environ: dict[str, Any], method: str) -> Answer:
        if method == "OPTIONS":
            return self._preflight(environ)
        if method not in ("POST", "GET"):
            return _error(405, f"{method} is not allowed on /score; use POST.", ("Allow", _SCORE_METHODS))
        refused = self._refusal(environ)
        if refused is not None:
            return refused
        scorer = self._scorer
        if not scorer.ready.is_set() and not scorer.ready.wait(self._timeout_s):
            return _error(503, "init() has not finished yet; retry.", ("Retry-After", "1"))
        script = scorer.script
        assert script is not None  # set before ready
        mode = script.mode

        if method == "POST":
            unsupported = _unsupported_type(environ, mode)
            if unsupported is not None:
                return unsupported
            try:
                body = read_body(environ, self._max_body)
            except BodyRejected as exc:
                # The rest of the body is not read: the connection cannot carry another request.
                return _error(exc.status, exc.message, _CLOSE)
        else:
            body = b""
        environ[BODY_KEY] = body

        args: tuple[Any, ...]
        kwargs: dict[str, Any]
        if mode is InputMode.SCHEMA:
            assert script.schema is not None  # schema mode implies a schema
            try:
                payload = orjson.loads(body) if method == "POST" else self._query_payload(environ)
            except orjson.JSONDecodeError as exc:
                return _error(400, f"Malformed JSON in request body: {exc}")
            try:
                kwargs = script.schema.convert(payload)
            except InputError as exc:
                return _error(400, str(exc))
            args = ()
        elif mode is InputMode.RAWHTTP:
            args, kwargs = (AMLRequest(environ, body),), {}
        else:
            if method == "GET":
                text = orjson.dumps(self._query_payload(environ)).decode()
            else:
                try:
                    text = body.decode("utf-8")
                except UnicodeDecodeError as exc:
                    return _error(400, f"Request body is not valid UTF-8: {exc}")
            args, kwargs = (text,), {}
        if script.wants_headers:
            kwargs["request_headers"] = Headers(_headers_from_environ(environ))

        call = Call(script.call, args, kwargs)
        try:
            yield call
        except ScoringTimeout:
            return _error(504, f"run() did not finish within the scoring timeout of "
                               f"{self._settings.timeout_ms} ms; this worker is being replaced.")
        except WorkerRestarting as exc:
            return _error(503, f"{exc}.", ("Retry-After", "1"))
        environ[RUN_MS_KEY] = call.run_ms
        timing = ("x-ms-run-fn-exec-ms", f"{call.run_ms:.3f}")
        if call.error is not None:
            error = call.error
            return _error(500, f"run() raised {type(error).__name__}: {error}",
                          ("x-ms-run-function-failed", "True"), timing)
        result = call.result
        if hasattr(result, "status_code") and hasattr(result, "get_data"):
            headers = [(str(name), str(value)) for name, value in result.headers.items()
                       if name.lower() != "content-length"]
            headers.append(timing)
            return int(result.status_code), headers, bytes(result.get_data())
        try:
            return 200, [_JSON, timing], orjson.dumps(result, default=_json_default, option=_JSON_OPTIONS)
        except TypeError as exc:
            print(f"mlnb.serving: run() returned a value JSON cannot represent: {exc}", file=sys.stderr)
            return _error(500, f"run() returned a value that cannot be serialised as JSON: {exc}", timing)

    def reads_body(self, environ: dict[str, Any]) -> bool:
        """Whether the app would read this request's body: a ``POST /score`` it does not refuse first.

        The Host, cross-site, key and ``Content-Type`` checks come before the body, so a
        client without a key never makes the server hold a body. (``Content-Type`` is known to
        be refused only once ``init()`` has returned, since the script decides.)

        Args:
            environ: The request's WSGI environ, without its body.
        """
        if environ["REQUEST_METHOD"] != "POST" or environ.get("PATH_INFO") != "/score":
            return False
        if self._guard.host_error(environ) is not None or self._refusal(environ) is not None:
            return False
        script = self._scorer.script
        return script is None or _unsupported_type(environ, script.mode) is None

    def _refusal(self, environ: dict[str, Any]) -> _Reply | None:
        cross_site = self._guard.cross_site_error(environ)
        if cross_site is not None:
            return _error(403, cross_site)
        if self._keys and not self._authorized(environ):
            return _error(401, "Missing or wrong key: send the header 'Authorization: Bearer <key>'.",
                          ("WWW-Authenticate", "Bearer"))
        return None

    def _metrics(self, environ: dict[str, Any], method: str) -> _Reply:
        if method not in ("GET", "HEAD"):
            return _error(405, f"{method} is not allowed on /metrics; use GET.", ("Allow", "GET, HEAD"))
        if self._keys and not self._authorized(environ):
            return _error(401, "Missing or wrong key: send the header 'Authorization: Bearer <key>'.",
                          ("WWW-Authenticate", "Bearer"))
        assert self._observer is not None and self._observer.metrics is not None  # the route implies them
        text, content_type = self._observer.metrics.render()
        return 200, [("Content-Type", content_type)], text

    def _query_payload(self, environ: dict[str, Any]) -> dict[str, Any]:
        # Query values are JSON when they parse as JSON (data=[[1,2]]), strings otherwise.
        payload: dict[str, Any] = {}
        for key, value in parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True):
            try:
                payload[key] = orjson.loads(value)
            except orjson.JSONDecodeError:
                payload[key] = value
        return payload

    def _preflight(self, environ: dict[str, Any]) -> _Reply:
        headers: list[tuple[str, str]] = [("Allow", _SCORE_METHODS)]
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and (self._cors_any or origin in self._cors_origins):
            headers += [
                ("Access-Control-Allow-Methods", _SCORE_METHODS),
                ("Access-Control-Allow-Headers",
                 environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS") or _DEFAULT_ALLOWED_HEADERS),
                ("Access-Control-Max-Age", "600"),
            ]
        return 200, headers, b""


def _unsupported_type(environ: dict[str, Any], mode: InputMode) -> _Reply | None:
    content_type = environ.get("CONTENT_TYPE")
    if mode is InputMode.SCHEMA and content_type and not _is_json_type(content_type):
        return _error(415, f"Content-Type {content_type!r} is not supported; send application/json.")
    return None


def _log_access(method: str, path: str, status: int, start: float) -> None:
    if not path.isprintable():
        path = path.encode("unicode_escape").decode("ascii")  # no forged log lines
    # One write per line: lines from concurrent threads and workers do not interleave.
    os.write(2, f"mlnb.serving: {method} {path} {status} {(time.perf_counter() - start) * 1000:.3f}ms\n".encode())
