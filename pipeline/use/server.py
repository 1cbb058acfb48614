"""The drawing page's HTTP server: GET / is the page, POST /predict takes a PNG of the drawing and answers
the ten probabilities and the 28x28 input the model saw (prepared as `predict` prepares images).

Bounded: request bodies over MAX_BODY bytes get 413, a client sending more than RATE requests a second
(BURST at once) gets 429; any bad request gets a 4xx with a JSON {"error": ...} message. A failure while
answering one request is answered with 500 and logged; the server keeps serving.
"""
from __future__ import annotations

import http.server
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pipeline.nn.model import TwoLayerNet
from pipeline.use.prepare import ImageInputError, decode_image, prepare
from pipeline.use.predictor import probabilities

PAGE = Path(__file__).with_name("page.html")
MAX_BODY = 1 << 20        # a 280x280 drawing as PNG is a few kB
RATE, BURST = 20.0, 40    # requests per second per client, and the burst allowed
MAX_CLIENTS = 1024        # rate buckets kept (oldest dropped)


class RateLimiter:
    """A token bucket per client address: `allow(addr)` is False once it sends faster than RATE."""

    def __init__(self, rate: float = RATE, burst: int = BURST, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allow(self, addr: str) -> bool:
        with self.lock:
            now = self.clock()
            tokens, last = self.buckets.pop(addr, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if len(self.buckets) >= MAX_CLIENTS:
                self.buckets.pop(next(iter(self.buckets)))
            ok = tokens >= 1.0
            self.buckets[addr] = (tokens - 1.0 if ok else tokens, now)
            return ok


def answer(model: TwoLayerNet, body: bytes) -> dict[str, Any]:
    """The JSON answer to one drawing (PNG bytes): digit, probabilities, and the 784 input pixels."""
    image = prepare(decode_image(body, "the drawing"), "the drawing")
    probs = probabilities(model, image[None])[0]
    return {"digit": int(probs.argmax()), "probabilities": [float(p) for p in probs],
            "input": image.reshape(-1).tolist()}


class _Handler(http.server.BaseHTTPRequestHandler):
    server: "DrawingServer"
    protocol_version = "HTTP/1.1"
    timeout = 10  # seconds a client may take to send its request (a stalled one is dropped)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._json(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        if self.path.split("?")[0] in ("/", "/index.html"):
            self._send(200, self.server.page, "text/html; charset=utf-8")
        else:
            self._error(404, f"no page {self.path[:80]!r}; the page is at / and predictions at POST /predict")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/predict":
            return self._error(404, f"no endpoint {self.path[:80]!r}; POST a PNG to /predict")
        if not self.server.limiter.allow(self.client_address[0]):
            return self._error(429, f"too many requests: at most {RATE:g} a second")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return self._error(411, "a Content-Length header (the PNG's size in bytes) is required")
        if int(length) > MAX_BODY:
            return self._error(413, f"{length} bytes is over the {MAX_BODY} byte limit for a drawing")
        body = self.rfile.read(int(length))
        if len(body) != int(length):
            return self._error(400, f"the body ended after {len(body)} of {length} bytes")
        try:
            self._json(200, answer(self.server.model, body))
        except ImageInputError as exc:
            self._error(422 if "no ink" in str(exc) else 400, str(exc))
        except Exception as exc:  # a bug must not stop the server: answer 500, log it, go on serving
            print(f"serve: error answering {self.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._error(500, "internal error while predicting; see the server's log")

    def do_PUT(self) -> None:  # noqa: N802
        self._error(405, "only GET / and POST /predict are served")

    do_DELETE = do_PATCH = do_PUT

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(fmt, *args)


class DrawingServer(http.server.ThreadingHTTPServer):
    """The page and /predict for `model`, on (host, port); port 0 picks a free one (see `url`)."""

    daemon_threads = True

    def __init__(self, model: TwoLayerNet, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> None:
        self.model, self.verbose = model, verbose
        self.page = PAGE.read_bytes()
        self.limiter = RateLimiter()
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"
