"""Fault injection, network: every misbehaving mirror is abandoned in bounded time with a message
naming it, the next mirror (or, for `auto`, the package) is used, and nothing half-written is left."""
from __future__ import annotations

import gzip
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.data.download import download
from pipeline.data.errors import DownloadError, SourceError
from pipeline.data.sources import fetch_mirrors

from .servers import BEHAVIOURS, BadMirror

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT, DEADLINE = 0.3, 1.0
# Abandoning a mirror may take the deadline plus one read timeout; the rest is slack for a busy machine.
BOUND = DEADLINE + TIMEOUT + 3.0


@pytest.fixture
def bad_mirror(monkeypatch):
    """Factory: BadMirror(behaviour, body) on 127.0.0.1, closed after the test."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    mirrors: list[BadMirror] = []

    def make(behaviour, body=b""):
        mirrors.append(BadMirror(behaviour, body))
        return mirrors[-1]

    yield make
    for m in mirrors:
        m.close()


def _body(behaviour, tiny_mnist):
    """What a mirror with `behaviour` serves for /<name>.gz: the right gzip, or the wrong bytes."""
    def body(path: str) -> bytes:
        name = path.strip("/").removesuffix(".gz")
        data = tiny_mnist.get(name, b"")
        if behaviour == "wrong_bytes":
            return gzip.compress(data[:-1] + bytes([data[-1] ^ 1]), mtime=0)
        if behaviour == "not_gzip":
            return b"<html>not found</html>" * 10
        return gzip.compress(data, mtime=0)

    return body


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_bad_mirror_is_abandoned_in_bounded_time_naming_it(bad_mirror, behaviour, tiny_mnist, tiny_sha256):
    mirror = bad_mirror(behaviour, _body(behaviour, tiny_mnist))
    start = time.monotonic()
    with pytest.raises(SourceError, match="^no mirror served ") as exc:
        fetch_mirrors([mirror.url], sha256=tiny_sha256, gz_md5=None, timeout=TIMEOUT, progress=False,
                      file_deadline=DEADLINE)
    assert time.monotonic() - start < BOUND
    message = str(exc.value)
    assert mirror.url in message and "Traceback" not in message
    assert len(message) < 600  # whatever the server sent, the message stays short


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_next_mirror_serves_after_a_bad_one(tmp_path, bad_mirror, http_mirror, behaviour, tiny_mnist,
                                             tiny_sha256, caplog):
    bad = bad_mirror(behaviour, _body(behaviour, tiny_mnist))
    good = http_mirror({name + ".gz": gzip.compress(data, mtime=0) for name, data in tiny_mnist.items()})
    out = tmp_path / "raw"
    caplog.set_level(logging.INFO)
    start = time.monotonic()
    result = download(out, source="mirrors", mirrors=[bad.url, good], timeout=TIMEOUT, sha256=tiny_sha256,
                      gz_md5=None, progress=False, file_deadline=DEADLINE, record_path=tmp_path / "rec.json")
    assert time.monotonic() - start < 4 * BOUND
    assert set(result.origin.values()) == {f"{good}{name}.gz" for name in tiny_mnist}
    assert sorted(p.name for p in out.iterdir()) == sorted(tiny_mnist)
    assert all((out / name).read_bytes() == data for name, data in tiny_mnist.items())
    assert any(bad.url in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    # progress off a TTY: one line per file received
    assert sum("bytes in" in r.getMessage() and good in r.getMessage() for r in caplog.records) == len(tiny_mnist)


def test_auto_falls_back_to_the_package_when_the_mirror_trickles(tmp_path, bad_mirror, tiny_mnist):
    mirror = bad_mirror("trickle", _body("trickle", tiny_mnist))
    result = download(tmp_path / "raw", source="auto", mirrors=[mirror.url], timeout=TIMEOUT, progress=False,
                      file_deadline=DEADLINE, record_path=tmp_path / "rec.json")
    assert result.source == "package"
    assert json.loads((tmp_path / "rec.json").read_text())["source"] == "package"


@pytest.mark.parametrize("behaviour", ["trickle", "stall", "trickle_headers", "endless"])
def test_download_stage_ends_with_one_message_and_writes_nothing(tmp_path, bad_mirror, behaviour, tiny_mnist):
    mirror = bad_mirror(behaviour, _body(behaviour, tiny_mnist))
    (tmp_path / "params.yaml").write_text(
        f"download: {{source: mirrors, mirrors: ['{mirror.url}'], timeout: {TIMEOUT}, file_deadline: {DEADLINE}}}\n")
    out = tmp_path / "raw"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "download.py"), "--out", str(out),
                           "--record", str(tmp_path / "rec.json")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    assert time.monotonic() - start < BOUND + 10  # + interpreter start-up
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    error = [line for line in proc.stderr.splitlines() if line.startswith("download: error:")]
    assert len(error) == 1 and "no MNIST source worked" in error[0]
    assert mirror.url in proc.stderr
    assert not out.exists() and not (tmp_path / "rec.json").exists()
    assert not list((tmp_path / ".pipeline-tmp").glob("*/*"))  # no temporary files left either


def test_all_mirrors_bad_lists_each(tmp_path, bad_mirror, tiny_mnist, tiny_sha256):
    mirrors = [bad_mirror(b, _body(b, tiny_mnist)) for b in ("stall", "wrong_bytes", "http_500")]
    with pytest.raises(DownloadError, match=r"^no MNIST source worked \(download\.source = 'mirrors'\)") as exc:
        download(tmp_path / "raw", source="mirrors", mirrors=[m.url for m in mirrors], timeout=TIMEOUT,
                 sha256=tiny_sha256, gz_md5=None, progress=False, file_deadline=DEADLINE)
    message = str(exc.value)
    assert all(m.url in message for m in mirrors)
    assert "timed out" in message and "SHA-256" in message and "HTTP 500" in message
