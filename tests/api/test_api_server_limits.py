"""The API's HTTP server against hostile clients (issue 25 item 22), over real sockets to a real
uvicorn with the options ``gaitlake serve`` uses (:func:`api.server.uvicorn_options`): an
oversized chunked upload is answered 413 and the connection closed (the server stops reading);
a request head or body that trickles is answered 408 and closed instead of being held."""
from __future__ import annotations

import select
import socket
import time

import pytest
from api_support import Server

from api.app import create_app
from api.keys import create_key
from api.server import uvicorn_options
from api.settings import ApiSettings
from configs import load_settings
from storage.catalog import User

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("limits")
    settings = load_settings(environ={}, overrides={"data_dir": str(data), "storage": {"max_upload_mb": 1}})
    api_settings = ApiSettings(launch_processing=False, signing_secret="limits-secret",
                               header_timeout_s=HEADER_TIMEOUT_S, body_timeout_s=BODY_TIMEOUT_S)
    app = create_app(settings, api_settings)
    with app.state.catalog.session() as db:
        user = User(email="coach@example.org", role="admin", plan="pro")
        db.add(user)
        db.flush()
        user_id = user.id
    srv = Server(app, None, **uvicorn_options(api_settings))
    srv.key, srv.user_id = create_key(app.state.catalog, user_id), user_id
    srv.start()
    yield srv
    srv.stop()


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def _closed(sock: socket.socket, within_s: float = 5.0) -> bool:
    """Whether the server closed the connection (EOF or reset) within ``within_s``."""
    sock.settimeout(within_s)
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def _chunked_upload(server, authorization: str) -> tuple[socket.socket, int]:
    """Start a chunked multipart upload of up to 13 MB; stop sending once the server answers.
    The socket (its answer unread) and the bytes sent."""
    sock = _connect(server)
    head = (f"POST /running/sessions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {authorization}\r\n"
            "Content-Type: multipart/form-data; boundary=XyZzY\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    sock.sendall(head)
    part = (f'--XyZzY\r\nContent-Disposition: form-data; name="user_id"\r\n\r\n{server.user_id}\r\n'
            '--XyZzY\r\nContent-Disposition: form-data; name="video"; filename="v.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
            ).encode() + b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 1000
    sent = 0
    for piece in [part] + [b"\x01" * 32768] * 400:   # 13 MB on offer; the limit is 2 MB (1 MB + form slack)
        if select.select([sock], [], [], 0)[0]:
            break                                        # the server answered: stop sending, as a client should
        try:
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sock, sent


def test_chunked_upload_over_the_limit_gets_413_and_the_connection_closed(server):
    sock, sent = _chunked_upload(server, f"API-KEY {server.key}")
    status, headers, body = _response(sock)
    assert status == 413 and b"limit" in body
    assert headers.get("connection") == "close"
    assert sent < 6 << 20, sent              # refused near the limit, not after the whole body
    assert _closed(sock), "the connection stayed open after the 413: the server would read on"
    sock.close()


def test_an_upload_refused_before_its_body_was_read_closes_the_connection(server):
    """A 401 answered before the body was read: closed too, or the server would read the body to its end."""
    sock, _ = _chunked_upload(server, "API-KEY glk_not_a_key")
    status, headers, _ = _response(sock)
    assert status == 401 and headers.get("connection") == "close"
    assert _closed(sock)
    sock.close()


def test_a_trickling_request_head_is_cut_off(server):
    """Slowloris: one header byte a quarter second, never finishing; closed after the head timeout."""
    sock = _connect(server)
    started = time.monotonic()
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        for byte in b"X-Slow: " + b"a" * 400:
            sock.send(bytes([byte]))
            time.sleep(0.25)
            if time.monotonic() - started > HEADER_TIMEOUT_S + 6:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    held = time.monotonic() - started
    assert held < HEADER_TIMEOUT_S + 4, f"a trickling head held its connection {held:.1f} s"
    sock.close()


def test_a_stalled_body_gets_408_and_the_connection_closed(server):
    sock = _connect(server)
    body = b'{"x": 1}'
    sock.sendall(b"POST /app/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: 100\r\n\r\n" + body)          # 8 of the 100 bytes, then nothing
    started = time.monotonic()
    status, headers, text = _response(sock)
    assert status == 408 and headers.get("connection") == "close", (status, headers, text)
    assert time.monotonic() - started < BODY_TIMEOUT_S + 3
    assert _closed(sock)
    sock.close()


def test_an_idle_keep_alive_connection_serves_requests_and_a_prompt_client_is_unaffected(server):
    sock = _connect(server)
    for _ in range(3):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, body = _response(sock)
        assert status == 200 and b"ok" in body
        time.sleep(HEADER_TIMEOUT_S / 2)
    sock.close()
