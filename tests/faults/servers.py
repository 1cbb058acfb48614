"""Misbehaving HTTP mirrors on 127.0.0.1 for the fault-injection suite, one raw-socket thread each.

Each behaviour answers every request the same way (see BEHAVIOURS); `serve(behaviour, body)`
returns the base URL and the server stops at interpreter exit or when the test's fixture closes it.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Callable

# What each misbehaving mirror does after reading the request.
BEHAVIOURS = {
    "silent": "accepts the connection and never answers",
    "stall": "sends headers with the true Content-Length, then nothing",
    "stall_midway": "sends headers and half of the body, then nothing",
    "trickle": "sends the body one byte every 20 ms (fast enough for any read timeout)",
    "trickle_headers": "sends header lines one byte every 20 ms, forever",
    "endless": "sends bytes as fast as it can, with no Content-Length, forever",
    "huge_length": "announces a Content-Length of 10 GB",
    "lying_short": "announces more bytes than it sends, then closes",
    "lying_long": "announces fewer bytes than the body (the body is cut)",
    "wrong_bytes": "sends a valid gzip of the wrong data",
    "not_gzip": "sends bytes that are not gzip at all",
    "not_http": "answers with bytes that are not HTTP",
    "reset": "closes the connection at once",
    "http_500": "answers 500 Internal Server Error",
}


def _headers(length: int | None) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/octet-stream", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(conn: socket.socket, behaviour: str, body: bytes, stop: threading.Event) -> None:
    def trickle(data: bytes) -> None:
        for i in range(len(data)):
            if stop.is_set():
                return
            conn.sendall(data[i:i + 1])
            time.sleep(0.02)

    if behaviour == "silent":
        stop.wait()
    elif behaviour == "stall":
        conn.sendall(_headers(len(body)))
        stop.wait()
    elif behaviour == "stall_midway":
        conn.sendall(_headers(len(body)) + body[: len(body) // 2])
        stop.wait()
    elif behaviour == "trickle":
        conn.sendall(_headers(len(body)))
        trickle(body)
    elif behaviour == "trickle_headers":
        trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10**6)
    elif behaviour == "endless":
        conn.sendall(_headers(None))
        chunk = b"\0" * 65536
        while not stop.is_set():
            conn.sendall(chunk)
    elif behaviour == "huge_length":
        conn.sendall(_headers(10 * 10**9) + body)
        stop.wait()
    elif behaviour == "lying_short":
        conn.sendall(_headers(len(body) + 1000) + body)
    elif behaviour == "lying_long":
        conn.sendall(_headers(max(len(body) - 10, 0)) + body)
    elif behaviour in ("wrong_bytes", "not_gzip"):
        conn.sendall(_headers(len(body)) + body)
    elif behaviour == "not_http":
        conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n" + b"\x00\xff" * 100)
    elif behaviour == "reset":
        pass
    elif behaviour == "http_500":
        conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    else:
        raise ValueError(f"unknown behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}")


class _LoopbackServer:
    """A server on 127.0.0.1 handing each connection to `_handle` in a thread of its own; `url` is its base URL."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=2)


class BadMirror(_LoopbackServer):
    """A loopback server answering every GET with `behaviour`; `url` is its base URL."""

    def __init__(self, behaviour: str, body: bytes | Callable[[str], bytes] = b"") -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; known: {', '.join(BEHAVIOURS)}")
        self.behaviour, self.body = behaviour, body
        self.requests: list[str] = []
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                request = conn.recv(65536).decode("latin-1")
                path = request.split(" ")[1] if request.count(" ") >= 2 else "/"
                self.requests.append(path)
                body = self.body(path) if callable(self.body) else self.body
                _answer(conn, self.behaviour, body, self.stop)
            except OSError:
                pass  # the client gave up: what we are testing


class PacedMirror(_LoopbackServer):
    """A loopback server sending every GET's body at a steady `rate` bytes/s (ten chunks a second)."""

    def __init__(self, body: bytes, rate: float) -> None:
        self.body, self.rate = body, rate
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(_headers(len(self.body)))
                step = max(1, int(self.rate / 10))
                start = time.monotonic()
                for sent in range(0, len(self.body), step):
                    # Paced against the clock, so a late wake-up does not slow the average.
                    delay = start + sent / self.rate - time.monotonic()
                    if self.stop.wait(max(0.0, delay)):
                        return
                    conn.sendall(self.body[sent:sent + step])
            except OSError:
                pass  # the client gave up: what we are testing
