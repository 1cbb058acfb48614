"""The network's files: .npz arrays written atomically and byte-identically, read back without pickle.

Checkpoints and model files are .npz archives. `save_npz` writes them through `atomic_write` (a
temporary file renamed into place, so a reader never sees half a file) with fixed zip timestamps;
`load_npz` refuses anything that is not plain numeric arrays, naming the file.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping

import numpy as np

from pipeline.errors import InputFileError, MissingFileError, WriteError, describe_os_error

# Zip entries carry a modification time; a fixed one keeps .npz files byte-identical across runs.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_UMASK = os.umask(0o022)
os.umask(_UMASK)
# Errors of a write that mean "this file could not be written" rather than a bug in the writer.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})
# Largest .npz we load (a prepared training split is 43 MB; a 4096-unit float64 model 26 MB).
MAX_NPZ_BYTES = 1 << 30
_ZIP_MAGIC = b"PK\x03\x04"


def temp_name(path: Path) -> str:
    """The prefix of `atomic_write`'s temporary files for `path` (`.<name>.`), so leftovers can be found."""
    return f".{path.name}."


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to `path`; rename it onto `path` only if the block succeeds.

    On any exception the temporary file is removed, so a reader never sees a half-written file.
    A full disk, a file-size limit or a permission error raises WriteError naming `path`.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_name(path), suffix=".tmp")
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": "\n"})) as f:
            try:
                yield f
            except OSError as exc:
                if exc.errno in _WRITE_ERRNOS:
                    raise WriteError(path, describe_os_error(exc)) from exc
                raise
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError) and (
                exc.errno in _WRITE_ERRNOS or exc.filename in (tmp, str(path), str(path.parent))):
            raise WriteError(path, describe_os_error(exc)) from exc
        raise



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


def load_npz(path: str | os.PathLike, required: Mapping[str, str] | None = None,
             expected: str = "an .npz file of numeric arrays",
             max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Load every array of an .npz without pickle; errors name the file and say what was `expected`.

    `required` maps array names to a description used in the error when one is missing. A file or
    array larger than `max_bytes` is refused before it is read; so is anything that is not a zip
    archive of plain .npy arrays (a pickle, a lone .npy, an object array).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file; expected {expected}")
    size = path.stat().st_size
    if size > max_bytes:
        raise InputFileError(f"{path}: {size} bytes is too large (at most {max_bytes}); expected {expected}")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != _ZIP_MAGIC:
        raise InputFileError(f"{path}: not an .npz archive (it starts with {magic!r}); expected {expected}")
    try:
        with zipfile.ZipFile(path) as zf:
            unpacked = sum(info.file_size for info in zf.infolist())
        if unpacked > max_bytes:
            raise InputFileError(f"{path}: unpacks to {unpacked} bytes, too large (at most {max_bytes}); "
                                 f"expected {expected}")
        arrays = {}
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                try:
                    arrays[name] = npz[name]
                except ValueError as exc:  # numpy: object arrays need pickle, which we never allow
                    raise InputFileError(f"{path}: array {shorten_name(name)} holds Python objects, not numbers; "
                                         f"expected {expected}") from exc
    except InputFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise InputFileError(f"{path}: not a readable .npz archive ({type(exc).__name__}); expected {expected}; "
                             "re-run the stage that writes it") from exc
    except MemoryError:
        raise InputFileError(f"{path}: too large to load into memory; expected {expected}") from None
    for name, what in (required or {}).items():
        if name not in arrays:
            raise InputFileError(f"{path}: missing array {name!r} ({what}); found {sorted(arrays)[:10]}; "
                                 f"expected {expected}")
    return arrays


def shorten_name(name: str) -> str:
    """An array name as shown in messages (repr, cut to 40 characters)."""
    return repr(name) if len(name) <= 40 else repr(name[:40]) + "..."


