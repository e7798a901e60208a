"""Test requests: score a service (or a bare URI) and see status, body, latency and headers.

Three levels, like ``requests`` over its ``Session``:

- :func:`score` sends one payload and returns a :class:`ScoreResult`;
- :func:`score_frame` scores a whole DataFrame in batches and returns it with a
  predictions column; :func:`replay` sends a list of payloads at a given concurrency and
  returns a DataFrame of status and latency per request;
- :class:`ScoringClient` is the keep-alive connection under all of them (and under the
  profiler's load generator): one ``http.client`` connection, used by one thread.

Payloads may be a JSON string, bytes, a Python object, a numpy array or a pandas
DataFrame; arrays and frames become ``{"data": ...}`` in the shape the entry script's
input schema expects (rows of values, or records for a pandas-typed script).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from mlnb import _html
from mlnb.errors import InvalidConfiguration, ScoringError

if TYPE_CHECKING:
    import pandas as pd

_ORIENTS = ("auto", "values", "records")
_BODY_PREVIEW = 2000

DEFAULT_TIMEOUT_S = 60.0
"""How long a scoring request waits for its answer unless told otherwise."""


class ScoringTarget(Protocol):
    """What the client needs of a service: where to send, and the key when auth is on.

    :class:`mlnb.Webservice` is one; so is any object with these three members.
    """

    @property
    def scoring_uri(self) -> str:
        """The URI to POST scoring requests to."""
        ...

    @property
    def auth_enabled(self) -> bool:
        """Whether requests need a key."""
        ...

    def get_keys(self) -> tuple[str, str]:
        """The primary and secondary keys."""
        ...


@dataclass(frozen=True)
class ScoreResult:
    """One scoring request and its answer.

    Attributes:
        status: the HTTP status, or 0 when the request got no HTTP answer (see ``error``).
        body: the response parsed from JSON, or its text when it is not JSON.
        text: the response body as text.
        latency_ms: wall time from sending the request to reading the whole response.
        request_id: the id the request was sent with (the server echoes it).
        headers: the response headers, names in lower case.
        run_ms: the time spent in the entry script's ``run()``, as the server reports it.
        error: why no HTTP answer came (connection refused, timeout), else ``None``.
    """

    status: int
    body: Any
    text: str
    latency_ms: float
    request_id: str
    headers: dict[str, str] = field(default_factory=dict)
    run_ms: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the service answered 200."""
        return self.status == 200

    @property
    def message(self) -> str:
        """The error message of a failed request: the server's ``message``, or why none came."""
        if self.error:
            return self.error
        if isinstance(self.body, dict) and "message" in self.body:
            return str(self.body["message"])
        return self.text

    def raise_for_status(self) -> ScoreResult:
        """Return ``self`` when the status is 200.

        Raises:
            ScoringError: for any other status, with the server's message.
        """
        if not self.ok:
            what = f"answered {self.status}" if self.status else "gave no answer"
            raise ScoringError(f"the service {what}: {self.message}", status_code=self.status, body=self.text)
        return self

    def __repr__(self) -> str:
        body = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        run = f", run_ms={self.run_ms:.1f}" if self.run_ms is not None else ""
        return (
            f"ScoreResult(status={self.status}, latency_ms={self.latency_ms:.1f}{run}, "
            f"request_id={self.request_id!r}, body={body!r})"
        )

    def _repr_html_(self) -> str:
        status = f"{self.status} {http.client.responses.get(self.status, '')}".strip() if self.status else "no answer"
        timing = f"{self.latency_ms:.1f} ms" + (f" (run() {self.run_ms:.1f} ms)" if self.run_ms is not None else "")
        shown = json.dumps(self.body, indent=2) if not isinstance(self.body, str) else self.body
        if len(shown) > _BODY_PREVIEW:
            shown = shown[:_BODY_PREVIEW] + f"\n... ({len(shown) - _BODY_PREVIEW} more characters)"
        fields: list[tuple[str, object]] = [
            ("status", _html.outcome(status, ok=self.ok)),
            ("time", timing),
            ("request id", _html.code(self.request_id)),
        ]
        if self.error:
            fields.append(("error", self.error))
        fields.append(("body", _html.pre(shown)))
        headers = _html.table(("header", "value"), self.headers.items(), empty="no headers")
        fields.append(("headers", _html.details(f"{len(self.headers)} headers", headers)))
        return _html.card("Score result", fields)


class ScoringClient:
    """A keep-alive connection to one scoring endpoint; not shared between threads.

    Args:
        target: a :class:`~mlnb.Webservice` (any :class:`ScoringTarget`) or a scoring URI (``http://host:port/score``).
        key: the key to send as ``Authorization: Bearer``; default: the service's primary
            key when its auth is enabled.
        timeout: seconds to wait for each answer.

    Example:
        >>> with ScoringClient(service) as client:
        ...     client.score({"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]}).body
    """

    def __init__(self, target: ScoringTarget | str, *, key: str | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.uri, self.key = _resolve(target, key)
        parts = urlsplit(self.uri)
        if parts.scheme != "http" or not parts.hostname:
            raise InvalidConfiguration(f"scoring URI must look like http://host:port/score (not {self.uri!r})")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._path = parts.path or "/"
        if parts.query:
            self._path += "?" + parts.query
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None
        self._orient: str | None = None

    def score(self, payload: Any, *, request_id: str | None = None, orient: str = "auto") -> ScoreResult:
        """Send one payload; see :func:`score`."""
        return self.post(self.encode(payload, orient=orient), request_id=request_id)

    def encode(self, payload: Any, *, orient: str = "auto") -> bytes:
        """The request body for ``payload``; ``orient="auto"`` asks the service's swagger once."""
        if orient == "auto" and _is_frame(payload):
            if self._orient is None:
                self._orient = _frame_orient(self.uri, timeout=self.timeout)
            orient = self._orient
        return encode_payload(payload, orient=orient)

    def post(self, body: bytes, *, request_id: str | None = None) -> ScoreResult:
        """POST an already encoded body; a request that gets no HTTP answer has status 0."""
        request_id = request_id or uuid.uuid4().hex
        headers = {"Content-Type": "application/json", "x-request-id": request_id}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        # A server may close an idle keep-alive connection between requests; that is not an
        # error of the request, so a reused connection gets one retry on a fresh one.
        for attempt in (0, 1):
            reused = self._connection is not None
            started = time.perf_counter()
            try:
                connection = self._connect()
                connection.request("POST", self._path, body=body, headers=headers)
                response = connection.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self.close()
                if reused and attempt == 0:
                    continue
                return _no_answer(request_id, started, error)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                return _no_answer(request_id, started, error)
            latency_ms = (time.perf_counter() - started) * 1000
            if response.will_close:
                self.close()
            return _result(response, raw, latency_ms, request_id)
        raise AssertionError("unreachable: the second attempt always returns")

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._connection.connect()
            # Small request bodies must not wait for Nagle's algorithm.
            self._connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._connection

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> ScoringClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScoringClient({self.uri!r}, auth={'on' if self.key else 'off'})"


def score(
    target: ScoringTarget | str,
    payload: Any,
    *,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    request_id: str | None = None,
    orient: str = "auto",
) -> ScoreResult:
    """Send one scoring request and return what came back, whatever the status.

    Args:
        target: a :class:`~mlnb.Webservice` (any :class:`ScoringTarget`) or a scoring URI.
        payload: a JSON string or bytes (sent as they are), a numpy array or DataFrame
            (sent as ``{"data": ...}``), or any JSON-serialisable object.
        key: the key to send; default: the service's primary key when auth is on.
        timeout: seconds to wait for the answer.
        request_id: the ``x-request-id`` to send (default: a fresh UUID).
        orient: how a DataFrame becomes ``data``: ``"values"`` (a list of rows),
            ``"records"`` (a list of ``{column: value}``), or ``"auto"`` (records when the
            service's input schema is a pandas one, else rows).

    Returns:
        The result; check ``result.ok`` or call ``result.raise_for_status()``.

    Raises:
        ScoringError: when the service gives no HTTP answer at all (not running).

    Example:
        >>> score(service, {"data": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]})
    """
    with ScoringClient(target, key=key, timeout=timeout) as client:
        result = client.score(payload, request_id=request_id, orient=orient)
    if result.status == 0:
        raise ScoringError(
            f"no answer from {client.uri}: {result.error}; is the service running? see service.get_logs()", status_code=0
        )
    return result


def score_frame(
    target: ScoringTarget | str,
    frame: pd.DataFrame,
    *,
    batch_size: int = 100,
    column: str = "prediction",
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    orient: str = "auto",
) -> pd.DataFrame:
    """Score every row of ``frame`` in batches; return a copy with a predictions column.

    The service must answer each batch with one prediction per row (a list, or
    ``{"predictions": [...]}`` as no-code services do).

    Args:
        target: a :class:`~mlnb.Webservice` (any :class:`ScoringTarget`) or a scoring URI.
        frame: the input rows, columns in the order the model expects.
        batch_size: rows per request.
        column: the name of the predictions column.
        key: the key to send; default: the service's primary key when auth is on.
        timeout: seconds to wait for each answer.
        orient: how rows become ``data``; see :func:`score`.

    Returns:
        A copy of ``frame`` with ``column`` added.

    Raises:
        ScoringError: when a batch fails, or the answer does not have one prediction per row.
        InvalidConfiguration: for a batch size below 1.
    """
    if batch_size < 1:
        raise InvalidConfiguration(f"invalid value for batch_size, expected an integer of at least 1 (not {batch_size!r})")
    predictions: list[Any] = []
    with ScoringClient(target, key=key, timeout=timeout) as client:
        for start in range(0, len(frame), batch_size):
            batch = frame.iloc[start : start + batch_size]
            result = client.score(batch, orient=orient).raise_for_status()
            values = result.body.get("predictions") if isinstance(result.body, dict) else result.body
            if not isinstance(values, list) or len(values) != len(batch):
                raise ScoringError(
                    f"rows {start}-{start + len(batch) - 1}: expected {len(batch)} predictions, got {result.text[:200]!r}; "
                    "score_frame needs run() to return one prediction per row",
                    status_code=result.status,
                    body=result.text,
                )
            predictions.extend(values)
    scored = frame.copy()
    scored[column] = predictions
    return scored


def replay(
    target: ScoringTarget | str,
    payloads: Iterable[Any],
    *,
    concurrency: int = 1,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    orient: str = "auto",
) -> pd.DataFrame:
    """Send every payload, ``concurrency`` at a time, and tabulate what happened.

    Args:
        target: a :class:`~mlnb.Webservice` (any :class:`ScoringTarget`) or a scoring URI.
        payloads: the requests to send, each in any form :func:`score` takes.
        concurrency: how many requests are in flight at once (one connection each).
        key: the key to send; default: the service's primary key when auth is on.
        timeout: seconds to wait for each answer.
        orient: how DataFrame payloads become ``data``; see :func:`score`.

    Returns:
        One row per payload, in input order: ``status``, ``latency_ms``, ``run_ms``,
        ``request_id``, ``ok``, ``error`` (the message of a failed request).

    Raises:
        InvalidConfiguration: for a concurrency below 1.
    """
    import pandas as pd

    if concurrency < 1:
        raise InvalidConfiguration(f"invalid value for concurrency, expected an integer of at least 1 (not {concurrency!r})")
    items: Sequence[Any] = list(payloads)
    uri, key = _resolve(target, key)
    local = threading.local()
    clients: list[ScoringClient] = []
    lock = threading.Lock()

    def send(payload: Any) -> ScoreResult:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = ScoringClient(uri, key=key, timeout=timeout)
            with lock:
                clients.append(client)
        return client.score(payload, orient=orient)

    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mlnb-replay") as pool:
            results = list(pool.map(send, items))
    finally:
        for client in clients:
            client.close()
    return pd.DataFrame(
        {
            "status": [r.status for r in results],
            "latency_ms": [r.latency_ms for r in results],
            "run_ms": [r.run_ms for r in results],
            "request_id": [r.request_id for r in results],
            "ok": [r.ok for r in results],
            "error": [None if r.ok else r.message for r in results],
        }
    )


def encode_payload(payload: Any, *, orient: str = "values", input_name: str = "data") -> bytes:
    """The JSON body for ``payload``.

    Args:
        payload: a JSON string or bytes (returned as they are), a numpy array or a pandas
            DataFrame (wrapped as ``{input_name: ...}``), or any JSON-serialisable object
            (numpy values inside are converted).
        orient: for a DataFrame, ``"values"`` (a list of rows) or ``"records"``.
        input_name: the name of the entry script's input parameter.

    Raises:
        InvalidConfiguration: for an unknown orient.
        TypeError: for an object that cannot become JSON.
    """
    if orient not in _ORIENTS:
        raise InvalidConfiguration(f"invalid value for orient, expected one of {', '.join(_ORIENTS)} (not {orient!r})")
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8")
    if _is_frame(payload):
        rows: str = payload.to_json(orient="records" if orient == "records" else "values", date_format="iso")
        return b'{"' + input_name.encode() + b'": ' + rows.encode("utf-8") + b"}"
    if type(payload).__module__ == "numpy" and hasattr(payload, "tolist"):
        payload = {input_name: payload.tolist()}
    return json.dumps(payload, default=_to_json).encode("utf-8")


def _resolve(target: ScoringTarget | str, key: str | None) -> tuple[str, str | None]:
    if isinstance(target, str):
        return target, key
    uri = target.scoring_uri
    if key is None and target.auth_enabled:
        key = target.get_keys()[0]
    return uri, key


def _frame_orient(scoring_uri: str, *, timeout: float) -> str:
    """``"records"`` when the service's swagger says ``data`` is a list of objects, else ``"values"``."""
    parts = urlsplit(scoring_uri)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", "/swagger.json")
        response = connection.getresponse()
        document = json.loads(response.read()) if response.status == 200 else {}
    except (OSError, http.client.HTTPException, ValueError):
        return "values"  # no swagger (a bare URI to another server): rows are the common shape
    finally:
        connection.close()
    data = document.get("definitions", {}).get("ServiceInput", {}).get("properties", {}).get("data", {})
    return "records" if data.get("items", {}).get("type") == "object" else "values"


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and type(value).__module__.startswith("pandas")


def _result(response: http.client.HTTPResponse, raw: bytes, latency_ms: float, request_id: str) -> ScoreResult:
    text = raw.decode("utf-8", errors="replace")
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    headers = {name.lower(): value for name, value in response.getheaders()}
    run_ms = headers.get("x-ms-run-fn-exec-ms")
    return ScoreResult(
        status=response.status,
        body=body,
        text=text,
        latency_ms=latency_ms,
        request_id=headers.get("x-request-id", request_id),
        headers=headers,
        run_ms=float(run_ms) if run_ms else None,
    )


def _no_answer(request_id: str, started: float, error: BaseException) -> ScoreResult:
    latency_ms = (time.perf_counter() - started) * 1000
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return ScoreResult(status=0, body=None, text="", latency_ms=latency_ms, request_id=request_id, error=reason)


def _to_json(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
