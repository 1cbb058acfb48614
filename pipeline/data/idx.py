"""Strict reader and writer for the IDX format of the MNIST files.

Layout: two zero bytes, a dtype code, the number of dimensions, then one big-endian uint32 per
dimension, then the data in big-endian C order. The reader checks every part of that and that the
file length is exactly header + product(dims) * itemsize.
"""
from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from pipeline.data.errors import ChecksumError, IdxError
from pipeline.nn.npz import atomic_write

# IDX dtype code -> big-endian numpy dtype.
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=").str: code for code, dt in DTYPES.items()}
# The largest official file is 47 MB; a file far larger is refused before it is read.
MAX_IDX_BYTES = 128 << 20


def encode_idx(array: np.ndarray) -> bytes:
    """Return the IDX encoding of `array` (uint8, int8, int16, int32, float32 or float64; 1 to 255 dims)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("=").str)
    if code is None:
        raise IdxError(f"cannot write dtype {array.dtype} as IDX; allowed: {sorted(str(d) for d in DTYPES.values())}")
    if not 1 <= array.ndim <= 255:
        raise IdxError(f"cannot write a {array.ndim}-dimensional array as IDX; expected 1 to 255 dimensions")
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` to `path` as an IDX file, atomically."""
    data = encode_idx(array)
    with atomic_write(path, "wb") as f:
        f.write(data)


def decode_idx(
    data: bytes,
    source: str,
    dtype: np.dtype | str | None = None,
    shape: tuple[int | None, ...] | None = None,
) -> np.ndarray:
    """Parse IDX bytes into a native-endian array; `source` names the file in errors.

    `dtype` and `shape` (None entries match any size) are what the caller expects; a mismatch,
    like any malformed header or a length that disagrees with the header, raises IdxError.
    """
    if len(data) < 4:
        raise IdxError(f"{source}: {len(data)} bytes is too short for an IDX header (at least 4 bytes expected)")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in DTYPES or ndim == 0:
        raise IdxError(
            f"{source}: bad IDX magic number 0x{data[:4].hex()}; expected 0x0000 then a dtype code "
            f"({', '.join(f'0x{c:02x}' for c in DTYPES)}) and a dimension count >= 1"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxError(f"{source}: file ends inside the header ({len(data)} bytes, header needs {header_len})")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    file_dtype = DTYPES[code]
    if dtype is not None and file_dtype.newbyteorder("=") != np.dtype(dtype).newbyteorder("="):
        raise IdxError(f"{source}: IDX dtype is {file_dtype.newbyteorder('=')}; expected {np.dtype(dtype)}")
    if shape is not None and (len(shape) != ndim or any(s is not None and s != d for s, d in zip(shape, dims))):
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise IdxError(f"{source}: IDX dimensions are {dims}; expected {want}")
    expected = header_len + int(np.prod(dims, dtype=np.int64)) * file_dtype.itemsize
    if len(data) != expected:
        raise IdxError(
            f"{source}: file is {len(data)} bytes but its header {dims} of {file_dtype.newbyteorder('=')} "
            f"needs exactly {expected} (truncated or padded?)"
        )
    array = np.frombuffer(data, dtype=file_dtype, offset=header_len).reshape(dims)
    return array.astype(file_dtype.newbyteorder("="), copy=True)


def read_idx(
    path: str | os.PathLike,
    dtype: np.dtype | str | None = None,
    shape: tuple[int | None, ...] | None = None,
    sha256: str | None = None,
    max_bytes: int = MAX_IDX_BYTES,
) -> np.ndarray:
    """Read and check an IDX file (see `decode_idx`); a missing file raises IdxError naming it.

    A file over `max_bytes` is refused before it is read; with `sha256`, bytes that do not match it
    are refused (ChecksumError) before they are parsed.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IdxError(f"{path}: {size} bytes is too large for an MNIST IDX file (at most {max_bytes}); "
                           "rerun the download stage (dvc repro -f download)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: no such file; run the download stage first") from None
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256.lower():
            raise ChecksumError(f"{path}: altered or damaged: SHA-256 {actual[:16]}... is not the official "
                                f"{sha256[:16]}...; rerun the download stage (dvc repro -f download)")
    return decode_idx(data, str(path), dtype=dtype, shape=shape)
