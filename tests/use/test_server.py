"""pipeline.use.server over real HTTP on 127.0.0.1: the page, /predict, and every bad request a 4xx."""
from __future__ import annotations

import http.client
import json
import socket
import threading

import numpy as np
import pytest

from pipeline.persistence import load_model
from pipeline.use import server as srv
from pipeline.use.server import DrawingServer, RateLimiter
from tests.use.images import encode, enlarge, png_claiming


@pytest.fixture
def running(digit_model):
    server = DrawingServer(load_model(digit_model)[0], port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("Content-Type"), data


def drawing(mnist_test, i: int) -> bytes:
    """An MNIST test digit as the page sends it: a 280x280 PNG, white strokes on black."""
    return encode(enlarge(mnist_test[0][i], 280))


def test_the_page_is_served(running):
    status, ctype, body = request(running, "GET", "/")
    assert status == 200 and ctype.startswith("text/html")
    assert b'<canvas id="pad"' in body and b'fetch("predict"' in body


def test_a_drawing_gets_its_digit_the_probabilities_and_the_input_seen(running, mnist_test):
    images, labels = mnist_test
    right = 0
    for i in range(10):
        status, ctype, body = request(running, "POST", "/predict", drawing(mnist_test, i), {"Content-Type": "image/png"})
        assert status == 200 and ctype == "application/json"
        answer = json.loads(body)
        assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-9
        assert answer["digit"] == int(np.argmax(answer["probabilities"]))
        seen = np.array(answer["input"], dtype=np.uint8).reshape(28, 28)
        assert np.corrcoef(seen.ravel().astype(float), images[i].ravel().astype(float))[0, 1] > 0.8
        right += answer["digit"] == labels[i]
    assert right >= 9


@pytest.mark.parametrize("method, path, body, headers, status, message", [
    ("GET", "/admin", None, {}, 404, "no page '/admin'"),
    ("POST", "/", b"x", {}, 404, "POST a PNG to /predict"),
    ("PUT", "/predict", b"x", {}, 405, "only GET / and POST /predict"),
    ("POST", "/predict", b"hello", {}, 400, "the drawing: not an image"),
    ("POST", "/predict", encode(np.zeros((280, 280), dtype=np.uint8)), {}, 422, "the drawing: no ink"),
    ("POST", "/predict", png_claiming(100_000, 100_000), {}, 400, "refused as a decompression bomb"),
    ("POST", "/predict", b"x" * (srv.MAX_BODY + 1), {}, 413, f"over the {srv.MAX_BODY} byte limit"),
])
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_goes_on(running, mnist_test, method, path, body,
                                                                         headers, status, message):
    got, ctype, data = request(running, method, path, body, headers)
    assert got == status and ctype == "application/json"
    assert message in json.loads(data)["error"]
    assert request(running, "POST", "/predict", drawing(mnist_test, 0))[0] == 200


def test_a_request_without_a_length_or_cut_short(running):
    with socket.create_connection(running.server_address[:2], timeout=30) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"411" in s.recv(4096).split(b"\r\n")[0]
    with socket.create_connection(running.server_address[:2], timeout=30) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nshort")
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while chunk := s.recv(4096):  # the server closes the connection after an error
            reply += chunk
        assert b" 400 " in reply.split(b"\r\n")[0] and b"the body ended after 5 of 1000 bytes" in reply


def test_too_many_requests_get_429_then_service_resumes(running, mnist_test):
    now = [0.0]
    running.limiter = RateLimiter(rate=1.0, burst=3, clock=lambda: now[0])
    statuses = [request(running, "POST", "/predict", b"x")[0] for _ in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    status, _, body = request(running, "POST", "/predict", b"x")
    assert status == 429 and "too many requests" in json.loads(body)["error"]
    now[0] += 2.0
    assert request(running, "POST", "/predict", drawing(mnist_test, 0))[0] == 200


def test_a_failure_inside_is_a_500_and_the_server_keeps_serving(running, mnist_test, monkeypatch):
    def broken(model, body):
        raise RuntimeError("boom")

    monkeypatch.setattr(srv, "answer", broken)
    status, _, body = request(running, "POST", "/predict", drawing(mnist_test, 0))
    assert status == 500 and "internal error" in json.loads(body)["error"]
    monkeypatch.undo()
    assert request(running, "POST", "/predict", drawing(mnist_test, 0))[0] == 200


def test_the_rate_limiter_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b")  # per client
    now[0] = 0.5
    assert [limiter.allow("a") for _ in range(2)] == [True, False]


def test_serve_on_a_port_in_use_is_one_line(digit_model):
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "pipeline.serve", "--model", str(digit_model), "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"serve: error: 127.0.0.1:{port}: cannot listen there (Address already in use)")


def test_the_page_ships_with_the_package():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["package-data"]["pipeline.use"] == [srv.PAGE.name]
    assert srv.PAGE.is_file() and srv.PAGE.parent.name == "use"
