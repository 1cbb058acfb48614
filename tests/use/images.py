"""Test pictures of digits, made here from MNIST test digits (never downloaded): enlarged, moved, inverted,
coloured, rotated, shrunk, and encoded as image files."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def enlarge(digit: np.ndarray, side: int) -> np.ndarray:
    """A 28x28 digit scaled to side x side (bicubic), light ink on black still."""
    return np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC))


def on_paper(digit: np.ndarray, canvas: int, side: int, top: int, left: int) -> np.ndarray:
    """The digit enlarged to `side` and drawn as dark ink on white paper in a canvas x canvas picture."""
    ink = np.zeros((canvas, canvas), dtype=np.uint8)
    ink[top:top + side, left:left + side] = enlarge(digit, side)
    return 255 - ink


def encode(array: np.ndarray, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt)
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    data = bytearray(encode(np.zeros((1, 1), dtype=np.uint8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr:ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


def bbox_side(image: np.ndarray) -> int:
    rows, cols = np.nonzero(image)
    return max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    a = image.astype(np.float64)
    return float(a.sum(1) @ np.arange(a.shape[0]) / a.sum()), float(a.sum(0) @ np.arange(a.shape[1]) / a.sum())
