"""The event-loop front (``--body-timeout-s``): RSGI, bodies read on the event loop with a deadline.

Under granian's WSGI interface a request body is read on an HTTP thread
(``wsgi.input.read()`` blocks with no timeout), so a few clients that trickle their bodies
hold every thread and stop even ``/ready``. Here granian hands each request to the worker's
asyncio event loop instead, and no request holds a thread while it waits:

* a body the app would read (:meth:`~mlnb.serving.app.ScoringApp.reads_body`) is read on the
  loop, at most one byte past the limit, and must arrive within ``body_timeout_s``; it then
  reaches the app in memory as ``wsgi.input``, or as a reader that raises the 408;
* the app works out the answer on the loop (:meth:`~mlnb.serving.app.ScoringApp.answer`);
  the ``run()`` call it yields goes to the scoring thread and is awaited with the scoring
  timeout, so ``/`` and ``/ready`` answer while clients trickle bodies or ``run()`` is busy;
* a ``/score`` request that comes before ``init()`` has returned waits for it on one of a few
  threads, as under WSGI, never on the loop.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from mlnb.serving._body import BodyRejected
from mlnb.serving.app import ScoringApp
from mlnb.serving.scorer import Call, Scorer, ScoringTimeout, WorkerRestarting

__all__ = ["RSGIApp"]

_SCORE = "/score"
_EMPTY = b""
_Answer = tuple[int, list[tuple[str, str]], bytes, Iterable[bytes]]


class _StalledBody:
    """``wsgi.input`` of a body that did not arrive in time: reading it is the 408."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    def read(self, size: int = -1) -> bytes:
        raise BodyRejected(408, f"The request body did not arrive within {self._timeout_s:g} s "
                                "(--body-timeout-s).")


class _StartResponse:
    __slots__ = ("headers", "status")

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[str, str]] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status = int(status[:3])
        self.headers = headers


def _resolve(done: asyncio.Future[bool], finished: bool) -> None:
    if not done.done():  # the first of: the call finished, the timeout expired
        done.set_result(finished)


class _Deadline:
    """Cancels the current task after ``timeout_s``, and tells that cancellation from others."""

    __slots__ = ("_task", "_timer", "expired")

    def __init__(self, timeout_s: float) -> None:
        task = asyncio.current_task()
        assert task is not None  # granian runs each request in an asyncio task
        self._task = task
        self.expired = False
        self._timer = asyncio.get_running_loop().call_later(timeout_s, self._expire)

    def _expire(self) -> None:
        self.expired = True
        self._task.cancel()

    def cancel(self) -> None:
        """The awaited work is over: the deadline no longer applies."""
        self._timer.cancel()
        if self.expired and sys.version_info >= (3, 11):
            self._task.uncancel()


def _call(app: ScoringApp, environ: dict[str, Any]) -> _Answer:
    response = _StartResponse()
    chunks = app(environ, response)
    return response.status, response.headers, b"".join(chunks), chunks


def _environ(scope: Any) -> dict[str, Any]:
    """The WSGI environ of an RSGI request, without its body."""
    client = scope.client
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "PATH_INFO": scope.path,
        "QUERY_STRING": scope.query_string,
        "SCRIPT_NAME": "",
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client.rsplit(":", 1)[0] if client else "",
        "wsgi.url_scheme": scope.scheme,
    }
    for name, value in scope.headers.items():
        if name == "content-type":
            key = "CONTENT_TYPE"
        elif name == "content-length":
            key = "CONTENT_LENGTH"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        previous = environ.get(key)
        environ[key] = value if previous is None else f"{previous},{value}"
    return environ


class RSGIApp:
    """The RSGI application of one worker, in front of its app.

    Args:
        app: The worker's app.
        scorer: The worker's scoring thread (the one ``app`` uses).
        max_body_bytes: Largest accepted body; reading stops one byte past it.
        body_timeout_s: Longest a body may take to arrive.
        scoring_timeout_s: Longest a ``run()`` call may take.
        threads: Threads for ``/score`` requests that wait for ``init()``.
    """

    def __init__(self, app: ScoringApp, scorer: Scorer, *, max_body_bytes: int, body_timeout_s: float,
                 scoring_timeout_s: float, threads: int) -> None:
        self._app = app
        self._scorer = scorer
        self._max_body = max_body_bytes
        self._body_timeout_s = body_timeout_s
        self._scoring_timeout_s = scoring_timeout_s
        self._stalled = _StalledBody(body_timeout_s)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="mlnb-init-wait")

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        """Answer one request (granian calls this on the worker's event loop)."""
        app = self._app
        environ = _environ(scope)
        if app.reads_body(environ):
            environ["wsgi.input"] = await self._read_body(protocol, environ.get("CONTENT_LENGTH"))
        else:
            environ["wsgi.input"] = io.BytesIO(_EMPTY)
        if environ["PATH_INFO"] == _SCORE and not self._scorer.ready.is_set():
            loop = asyncio.get_running_loop()
            status, headers, body, _ = await loop.run_in_executor(self._threads, _call, app, environ)
        else:
            status, headers, body = await self._answer(environ)
        protocol.response_bytes(status, headers, body)
        if status == 504 and self._scorer.abandoned:
            self._scorer.exit_after_response()

    async def _answer(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        steps = self._app.answer(environ)
        try:
            call = next(steps)
            try:
                await self._run(call)
            except (ScoringTimeout, WorkerRestarting) as exc:
                steps.throw(exc)
            else:
                next(steps)
            raise AssertionError("answer() yields one call at most")
        except StopIteration as stop:
            answer: tuple[int, list[tuple[str, str]], bytes] = stop.value
            return answer

    async def _run(self, call: Call) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        call.notify = partial(loop.call_soon_threadsafe, _resolve, done, True)
        self._scorer.submit(call)
        timer = loop.call_later(self._scoring_timeout_s, _resolve, done, False)
        finished = await done
        timer.cancel()
        if not finished:
            raise self._scorer.overran(self._scoring_timeout_s)
        self._scorer.check(call)

    async def _read_body(self, protocol: Any, declared: str | None) -> Any:
        """The body as ``wsgi.input``: in memory, or the 408 when it stalls."""
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            return io.BytesIO(_EMPTY)  # the app answers 413 from Content-Length alone
        deadline = _Deadline(self._body_timeout_s)
        try:
            # With a Content-Length (at most the limit, checked above) the body is read in one
            # go; without one it is counted while it arrives, so a chunked body far over the
            # limit is never held whole.
            data = await protocol() if declared else await self._collect(protocol)
        except asyncio.CancelledError:
            if not deadline.expired:
                raise
            return self._stalled
        except RuntimeError:  # granian's RSGIProtocolClosed/Error: the client went away mid-body
            data = _EMPTY
        finally:
            deadline.cancel()
        return io.BytesIO(data)

    async def _collect(self, protocol: Any) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in protocol:
                chunks.append(chunk)
                size += len(chunk)
                if size > self._max_body:
                    break
        except RuntimeError:  # the client went away mid-body: what came is the body (the app says 400)
            pass
        return b"".join(chunks)
