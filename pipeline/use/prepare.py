"""Turn any picture of one digit into the 28x28 input an MNIST model expects, as MNIST's digits were made.

MNIST's digits are grey levels, light ink on a dark (0) background, the digit's bounding box scaled to
fit 20x20 pixels (aspect ratio kept, anti-aliased), placed in a 28x28 field so that its centre of mass
is at the field's centre. `prepare` does the same to a grey-level array of any size and either polarity;
`load_image` decodes a file with Pillow into such an array, refusing what is not a sane image.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from pipeline.errors import InputFileError

SIZE = 28   # the field
BOX = 20    # the largest side of the digit's bounding box
# Largest image decoded (pixels) and file read (bytes): a photo from a phone is 12-50 Mpx, a
# decompression bomb claims far more; either limit is checked before any pixel is decoded.
MAX_PIXELS = 64_000_000
MAX_FILE_BYTES = 64 << 20
# Ink contrast below this many grey levels (of 255) is no digit: a blank or uniform image.
MIN_CONTRAST = 16.0
# Before a digit is resampled, ink fainter than this (of 255) is dropped: JPEG ringing and paper texture
# would otherwise widen its bounding box. (MNIST's faint pixels come from its own resampling.)
FAINT = 51.0
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP", "PPM")
SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")


class ImageInputError(InputFileError):
    """An image that cannot be read or holds no digit; the message names the file and what is wrong."""


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Grey levels (H, W) float64 in 0-255 of the image file `data`; `name` names it in errors.

    Colour becomes luminance; transparent parts become white paper; a rotated phone photo is turned
    upright (EXIF); an animated image gives its first frame.
    """
    if len(data) > MAX_FILE_BYTES:
        raise ImageInputError(f"{name}: {len(data)} bytes is over the {MAX_FILE_BYTES} byte limit for an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageInputError(f"{name}: {w}x{h} pixels is over the {MAX_PIXELS} pixel limit "
                                          "(a decompression bomb or an oversized image); scale it down")
                if w == 0 or h == 0:
                    raise ImageInputError(f"{name}: the image is empty ({w}x{h} pixels)")
                img.seek(0)
                img = ImageOps.exif_transpose(img)
                img.load()
                grey = _to_grey(img)
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageInputError(f"{name}: refused as a decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageInputError(f"{name}: not an image ({', '.join(FORMATS)} expected)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageInputError(f"{name}: truncated or corrupt image ({exc})") from None
    return grey


def load_image(path: str | os.PathLike) -> np.ndarray:
    """`decode_image` of the file at `path`, its size checked before it is read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageInputError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES} byte limit for an image")
        data = path.read_bytes()
    except OSError as exc:
        raise ImageInputError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    return decode_image(data, str(path))


def _to_grey(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        hi = a.max()
        return a * (255.0 / hi) if hi > 255 else a
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(paper, rgba)
    return np.asarray(img.convert("L"), dtype=np.float64)


def prepare(grey: np.ndarray, name: str = "image") -> np.ndarray:
    """The MNIST-style (28, 28) uint8 input for one digit in `grey` (a 2-D array of grey levels 0-255).

    The paper is the median of the border pixels: the ink is what differs from it (dark ink on light
    paper is inverted), minus the noise level seen on the border, stretched so its darkest stroke is
    255. An image that is already MNIST's 28x28 comes back unchanged (up to rounding). Raises
    ImageInputError naming `name` when no ink stands out (blank or uniform image).
    """
    g = np.asarray(grey, dtype=np.float64)
    if g.ndim != 2 or g.size == 0:
        raise ImageInputError(f"{name}: expected a 2-D grey image, got shape {g.shape}")
    border = np.concatenate([g[0], g[-1], g[1:-1, 0], g[1:-1, -1]])
    paper = float(np.median(border))
    ink = paper - g if paper > 127.5 else g - paper
    np.clip(ink, 0.0, None, out=ink)
    edge = np.concatenate([ink[0], ink[-1], ink[1:-1, 0], ink[1:-1, -1]])
    noise = float(np.percentile(edge, 90)) if min(g.shape) > 2 else 0.0  # robust to strokes touching the edge
    ink -= noise
    np.clip(ink, 0.0, None, out=ink)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageInputError(f"{name}: no ink: the image is uniform or blank (ink contrast {peak:.0f} of 255 "
                              f"grey levels, at least {MIN_CONTRAST:.0f} needed)")
    ink *= 255.0 / peak
    crop = _bounding_box(ink, 0.5)
    if max(crop.shape) != BOX:
        ink[ink < FAINT] = 0.0
        crop = _fit_box(_bounding_box(ink, 0.5))
    return _centre(crop)


def _bounding_box(ink: np.ndarray, floor: float) -> np.ndarray:
    rows, cols = np.nonzero(ink >= floor)
    return ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale `crop` so its larger side is BOX pixels (kept as is when it already is)."""
    h, w = crop.shape
    if max(h, w) == BOX:
        return crop
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    resized = Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, 255.0)


def _centre(crop: np.ndarray) -> np.ndarray:
    """Place `crop` in the 28x28 field with its centre of mass on pixel (14, 14), to the nearest whole pixel
    (where each of MNIST's 10,000 test digits has its own, to the nearest pixel)."""
    h, w = crop.shape
    total = crop.sum()
    cy = (crop.sum(axis=1) @ np.arange(h)) / total
    cx = (crop.sum(axis=0) @ np.arange(w)) / total
    top = int(np.clip(np.rint(SIZE / 2 - cy), 0, SIZE - h))
    left = int(np.clip(np.rint(SIZE / 2 - cx), 0, SIZE - w))
    field = np.zeros((SIZE, SIZE), dtype=np.float64)
    field[top:top + h, left:left + w] = crop
    return np.rint(field).astype(np.uint8)
