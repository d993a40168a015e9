"""How the API's HTTP server treats slow clients: a request head must arrive within
``api.header_timeout_s`` and each piece of a body within ``api.body_timeout_s``.

uvicorn's own ``timeout_keep_alive`` only closes a connection that sends nothing between
requests: every byte that arrives cancels it, so a client trickling one header byte every few
seconds (slowloris) or a body a byte at a time held its connection, and a worker slot, for as
long as it liked. Two guards close that:

* :class:`GuardedH11Protocol` (uvicorn's h11 protocol, ``http=`` of :func:`uvicorn_options`):
  from the moment a connection opens, and again after each response, the next request's head
  has ``header_timeout_s`` in all, however its bytes trickle; then ``408`` and the connection
  is closed.
* :class:`BodyTimeoutMiddleware` (ASGI, in :func:`api.app.create_app`): a body that stalls for
  ``body_timeout_s`` between two pieces is answered ``408`` and the connection closed; so is the
  connection after any answer given before the body was read to its end (an upload past the
  limit: the server stops reading there).

See docs/api.md (error codes 408 and 413).
"""
from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.errors import ApiError

log = logging.getLogger("gaitlake.api")

#: The most of an unfinished request head (request line and headers) h11 buffers: a trickled head
#: that grows past it is refused (uvicorn answers 400 and closes) before its deadline. A head that
#: arrives whole is parsed as it is (h11 checks the limit only on what it must keep waiting on).
MAX_HEAD_BYTES = 32 * 1024
_HEAD_TIMEOUT_BODY = b'{"error": "the request head did not arrive in time"}'
_HEAD_TIMEOUT_RESPONSE = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                          b"content-length: %d\r\n\r\n%s" % (len(_HEAD_TIMEOUT_BODY), _HEAD_TIMEOUT_BODY))


def with_header(message: dict[str, Any], name: bytes, value: bytes) -> dict[str, Any]:
    """An ASGI ``http.response.start`` message with header ``name`` (lowercase) set to ``value``."""
    headers = [h for h in message.get("headers", []) if h[0].lower() != name]
    return {**message, "headers": [*headers, (name, value)]}


def closing(message: dict[str, Any]) -> dict[str, Any]:
    """An ASGI ``http.response.start`` message with ``Connection: close``: the server closes the
    connection after this response instead of reading on (the rest of a refused body, say)."""
    return with_header(message, b"connection", b"close")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head (see the module docstring)."""

    def __init__(self, *args: Any, header_timeout_s: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_of: object = None   # the cycle whose successor's head is awaited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._head_of:   # a new request began
            self._head_timer.cancel()
            self._head_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is not None and self.cycle.response_complete:
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _await_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_of = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.cycle is not self._head_of:   # closed, or a request began
            return
        log.warning("closing a connection from %s: no request head within %.0f s", self.client, self.header_timeout_s)
        self.transport.write(_HEAD_TIMEOUT_RESPONSE)
        self.transport.close()


def uvicorn_options(api_settings) -> dict[str, Any]:
    """``uvicorn.run``/``uvicorn.Config`` options of the API server: the guarded protocol with
    ``api.header_timeout_s`` and a bounded request head."""
    return {"http": functools.partial(GuardedH11Protocol, header_timeout_s=float(api_settings.header_timeout_s)),
            "h11_max_incomplete_event_size": MAX_HEAD_BYTES}


def _declares_body(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return True
    try:
        return int(headers.get(b"content-length", b"0")) > 0
    except ValueError:
        return True


class BodyTimeoutMiddleware:
    """408 (JSON, ``Connection: close``) when a request body stalls ``timeout_s`` between two pieces;
    and ``Connection: close`` on any answer given before the request's body was read to its end
    (a 413 past the upload limit, a 401 before an upload was read, the 408): kept alive, the HTTP
    server would read and discard the rest of the body, as much as the client cares to send, to
    find the next request."""

    def __init__(self, app, timeout_s: float):
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        stalled = False
        body_done = not _declares_body(scope)   # after the body (or a disconnect), receive() waits for a disconnect: no deadline

        async def timed_receive():
            nonlocal stalled, body_done
            if stalled:
                raise ApiError(408, "the request body stalled")
            if body_done:
                return await receive()
            try:
                msg = await asyncio.wait_for(receive(), self.timeout_s)
            except asyncio.TimeoutError:
                stalled = True
                log.warning("request body from %s stalled for %.0f s: answered 408", scope.get("client"), self.timeout_s)
                raise ApiError(408, f"the request body stalled for {self.timeout_s:.0f} s") from None
            body_done = msg["type"] != "http.request" or not msg.get("more_body", False)
            return msg

        async def closing_send(msg):
            await send(closing(msg) if msg["type"] == "http.response.start" and (stalled or not body_done) else msg)

        await self.app(scope, timed_receive, closing_send)
