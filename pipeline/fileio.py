"""Atomic, deterministic file writing: temp file then rename; .npz without timestamps."""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import numpy as np

# Zip entries carry a modification time; a fixed one keeps .npz files byte-identical across runs.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to `path`; rename it onto `path` only if the block succeeds.

    On any exception the temporary file is removed, so a reader never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON with a trailing newline, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], compress: bool = False) -> None:
    """Save arrays as an .npz that is byte-identical for identical arrays, atomically.

    `np.savez` stamps each zip entry with the current time; this writer uses a fixed one.
    Object arrays are refused: nothing we write needs pickle to read back.
    """
    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, mode="w", compression=compression) as zf:
            for name in sorted(arrays):
                arr = np.asanyarray(arrays[name])
                if arr.dtype.hasobject:
                    raise TypeError(f"save_npz({path}): array {name!r} has dtype object; refusing to pickle")
                buf = io.BytesIO()
                np.lib.format.write_array(buf, arr, allow_pickle=False)
                info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
                info.compress_type = compression
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue())


def load_npz(path: str | os.PathLike, required: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Load every array of an .npz without pickle; raise ValueError naming the file if it is unreadable.

    `required` maps array names to a description used in the error when one is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc}); re-run the stage that writes it") from exc
    except ValueError as exc:
        raise ValueError(f"{path}: cannot load without pickle ({exc})") from exc
    for name, what in (required or {}).items():
        if name not in arrays:
            raise ValueError(f"{path}: missing array {name!r} ({what}); found {sorted(arrays)}")
    return arrays


def write_csv(path: str | os.PathLike, header: list[str], rows: list[list[Any]]) -> None:
    """Write a CSV atomically; floats as repr (shortest exact), None as an empty cell."""

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, (float, np.floating)):
            return repr(float(v))
        return str(v)

    lines = [",".join(header)] + [",".join(cell(v) for v in row) for row in rows]
    write_text(path, "\n".join(lines) + "\n")


def read_csv_columns(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a CSV written by `write_csv` into columns of strings, keyed by header name."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file; run the stage that writes it") from None
    if not lines:
        raise ValueError(f"{path}: empty CSV, expected a header line")
    header = lines[0].split(",")
    columns: dict[str, list[str]] = {h: [] for h in header}
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(header):
            raise ValueError(f"{path}:{n}: {len(cells)} cells, expected {len(header)} ({','.join(header)})")
        for h, c in zip(header, cells):
            columns[h].append(c)
    return columns
