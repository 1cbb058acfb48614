"""Fault injection, network: every misbehaving mirror is abandoned in bounded time with a message
naming it, the next mirror (or, for `auto`, the package) is used, and nothing half-written is left.
A mirror under the speed floor is abandoned early; one slow but above it completes."""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.data.download import download
from pipeline.data.errors import DownloadError, SourceError
from pipeline.data.sources import fetch_mirrors

from .servers import BEHAVIOURS, BadMirror, PacedMirror

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


# Speed floor: 4 kB/s over any 1 s. A 12 kB file at 8 kB/s (1.5 s) completes; at 1 kB/s it is abandoned.
FLOOR, FLOOR_TIME = 4000.0, 1.0


@pytest.fixture
def paced_mirror(monkeypatch):
    """Factory: PacedMirror(body, rate) on 127.0.0.1, closed after the test."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    mirrors: list[PacedMirror] = []

    def make(body, rate):
        mirrors.append(PacedMirror(body, rate))
        return mirrors[-1]

    yield make
    for m in mirrors:
        m.close()


@pytest.fixture(scope="module")
def blob():
    """12 kB that gzip cannot shrink: the transfer is as long as the file."""
    data = np.random.default_rng(7).integers(0, 256, 12_000, dtype=np.uint8).tobytes()
    return data, gzip.compress(data, mtime=0), {"blob": hashlib.sha256(data).hexdigest()}


def test_mirror_below_the_speed_floor_is_abandoned_for_the_next(paced_mirror, blob, caplog):
    data, packed, sha = blob
    slow, steady = paced_mirror(packed, 1000.0), paced_mirror(packed, 8 * FLOOR)
    caplog.set_level(logging.INFO)
    start = time.monotonic()
    result = fetch_mirrors([slow.url, steady.url], sha256=sha, gz_md5=None, timeout=5.0, progress=False,
                           file_deadline=60.0, speed_limit=FLOOR, speed_time=FLOOR_TIME)
    # Abandoned after about one floor period, far before the 12 s the whole file would take or the deadline.
    assert time.monotonic() - start < FLOOR_TIME + 5.0
    assert result.files["blob"] == data and result.origin["blob"] == f"{steady.url}blob.gz"
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert slow.url in warning
    assert f"abandoned: under {FLOOR:g} bytes/s for {FLOOR_TIME:g} s (download.speed_limit, " in warning


def test_slow_but_steady_mirror_above_the_floor_completes(paced_mirror, blob):
    data, packed, sha = blob
    mirror = paced_mirror(packed, 2 * FLOOR)  # 12 kB at 8 kB/s: 1.5 s, longer than the floor's period
    start = time.monotonic()
    result = fetch_mirrors([mirror.url], sha256=sha, gz_md5=None, timeout=5.0, progress=False,
                           file_deadline=60.0, speed_limit=FLOOR, speed_time=FLOOR_TIME)
    assert time.monotonic() - start >= FLOOR_TIME  # the floor was checked during the transfer
    assert result.files["blob"] == data


def test_only_mirror_below_the_floor_fails_naming_the_floor(paced_mirror, blob):
    _, packed, sha = blob
    mirror = paced_mirror(packed, 1000.0)
    with pytest.raises(SourceError, match=rf"no mirror served blob: {mirror.url}blob.gz: abandoned: under 4000 "
                                          rf"bytes/s for 1 s \(download.speed_limit, download.speed_time\) with "
                                          rf"\d+ of {len(packed)} bytes received"):
        fetch_mirrors([mirror.url], sha256=sha, gz_md5=None, timeout=5.0, progress=False,
                      file_deadline=60.0, speed_limit=FLOOR, speed_time=FLOOR_TIME)


def test_speed_floor_params_are_validated(tmp_path):
    (tmp_path / "params.yaml").write_text("download: {source: mirrors, speed_limit: -1}\n")
    run = subprocess.run([sys.executable, str(ROOT / "stages/download.py"), "--params", str(tmp_path / "params.yaml"),
                          "--out", str(tmp_path / "raw"), "--record", str(tmp_path / "rec.json")],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    assert "params.yaml:download.speed_limit = -1.0 is not allowed: expected a finite number >= 0" in run.stderr
    assert not (tmp_path / "raw").exists()
