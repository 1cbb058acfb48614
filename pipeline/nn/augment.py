"""Data augmentation: random shifts, affine maps (rotation, scale, shear) and elastic distortions.

Every image of a batch gets its own random transform, and the whole batch is resampled at once
(no per-image Python loop): each output pixel reads the source image at a transformed position
by bilinear interpolation, with zeros outside the image. Shifts are whole pixels, so a pure shift
moves pixels exactly; with every magnitude zero the output equals the input.

Elastic distortions follow Simard et al. (2003): a per-image displacement field of uniform noise
in [-1, 1], smoothed by a Gaussian of std `elastic_sigma` pixels and scaled by `elastic_alpha`.
The Gaussian filter is two matrix products over the whole batch (G @ noise @ G.T), so scipy is not needed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MNIST_SHAPE = (28, 28)


@dataclass(frozen=True)
class AugmentConfig:
    """Magnitudes of the random distortions; all zero means no augmentation.

    shift: largest translation, whole pixels, drawn uniformly in [-shift, shift] per axis.
    rotation: largest rotation, degrees (uniform in [-rotation, rotation]).
    scale: largest relative zoom (0.1 = uniform factor in [0.9, 1.1]).
    shear: largest shear angle, degrees.
    elastic_alpha: elastic displacement scale, pixels (Simard et al. used 34 with sigma 4).
    elastic_sigma: smoothness of the elastic field, pixels (std of its Gaussian filter).
    """

    shift: int = 0
    rotation: float = 0.0
    scale: float = 0.0
    shear: float = 0.0
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0

    def __post_init__(self) -> None:
        for name in ("shift", "rotation", "scale", "shear", "elastic_alpha"):
            if getattr(self, name) < 0:
                raise ValueError(f"augment {name} = {getattr(self, name)!r} must be >= 0")
        if self.scale >= 1:
            raise ValueError(f"augment scale = {self.scale!r} must be < 1 (a zoom factor in (1 - scale, 1 + scale))")
        if self.elastic_sigma <= 0:
            raise ValueError(f"augment elastic_sigma = {self.elastic_sigma!r} must be > 0")

    @property
    def active(self) -> bool:
        """True when any distortion has a non-zero magnitude."""
        return bool(self.shift or self.rotation or self.scale or self.shear or self.elastic_alpha)

    @property
    def affine(self) -> bool:
        return bool(self.rotation or self.scale or self.shear)


def gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) matrix G with G @ v = v filtered by a Gaussian of std `sigma` (zeros beyond the ends).

    Rows are normalised by the full kernel's sum, so the interior matches a normalised 1-D filter.
    """
    radius = int(np.ceil(4 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    i = np.arange(n)
    d = i[:, None] - i[None, :]
    g = np.exp(-0.5 * (d / sigma) ** 2)
    g[np.abs(d) > radius] = 0.0
    return (g / taps.sum()).astype(np.float32)


class Augmenter:
    """Callable `(images, rng) -> distorted images`: the Solver's `augment=` hook.

    `images` is uint8, (N, H*W) flattened rows or (N, H, W); the result has the same shape and
    dtype, a new array. Labels are untouched (the distortions keep the digit's class). The random
    draws come only from `rng`, in a fixed order, so a seed fixes the output. Temporaries are
    reused across calls with the same batch size (training sees one size).
    """

    def __init__(self, config: AugmentConfig, shape: tuple[int, int] = MNIST_SHAPE) -> None:
        self.config = config
        self.h, self.w = int(shape[0]), int(shape[1])
        ys, xs = np.meshgrid(np.arange(self.h, dtype=np.float32), np.arange(self.w, dtype=np.float32), indexing="ij")
        # Coordinates relative to the image centre (half-integers for even sizes: exact in float32).
        self.cy, self.cx = (self.h - 1) / 2.0, (self.w - 1) / 2.0
        self.gx, self.gy = (xs - self.cx).ravel(), (ys - self.cy).ravel()
        self.gauss_y = gaussian_matrix(self.h, config.elastic_sigma) if config.elastic_alpha else None
        self.gauss_x = gaussian_matrix(self.w, config.elastic_sigma).T.copy() if config.elastic_alpha else None
        self._ws: dict[int, dict[str, np.ndarray]] = {}

    def _workspace(self, n: int) -> dict[str, np.ndarray]:
        ws = self._ws.get(n)
        if ws is None:
            self._ws.clear()
            p = self.h * self.w
            f = lambda: np.empty((n, p), dtype=np.float32)  # noqa: E731
            ws = self._ws[n] = {
                "sx": f(), "sy": f(), "tmp": f(), "top": f(), "bot": f(), "v1": f(),
                "x0": np.empty((n, p), dtype=np.intp), "y0": np.empty((n, p), dtype=np.intp),
                "idx": np.empty((n, p), dtype=np.intp),
                "padded": np.zeros((n, self.h + 2, self.w + 2), dtype=np.float32),
                "base": (np.arange(n, dtype=np.intp) * ((self.h + 2) * (self.w + 2)))[:, None],
            }
        return ws

    def _matrices(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Per-image sampling matrix entries a, b, c, d (output offset -> source offset)."""
        cfg = self.config
        theta = np.deg2rad(rng.uniform(-cfg.rotation, cfg.rotation, n)) if cfg.rotation else np.zeros(n)
        zoom = rng.uniform(1.0 - cfg.scale, 1.0 + cfg.scale, n) if cfg.scale else np.ones(n)
        shear = np.tan(np.deg2rad(rng.uniform(-cfg.shear, cfg.shear, n))) if cfg.shear else np.zeros(n)
        cos, sin = np.cos(theta) / zoom, np.sin(theta) / zoom
        # Rotation @ shear-along-x, divided by the zoom (sampling at 1/zoom magnifies by zoom).
        a, b = cos, cos * shear - sin
        c, d = sin, sin * shear + cos
        return tuple(v.astype(np.float32)[:, None] for v in (a, b, c, d))

    def _elastic(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Smoothed random displacements, (H, 2n, W): [:, :n] along x, [:, n:] along y, in pixels.

        The noise is drawn directly in (H, 2n, W) layout (it is i.i.d., so any layout will do), which
        turns the Gaussian filter into two plain GEMMs over the whole batch: along W, then along H.
        """
        h, w = self.h, self.w
        # Uniform noise from random bytes (256 levels, centred: (b + 0.5) / 128 - 1 in (-1, 1)): several
        # times cheaper than float draws, and indistinguishable once ~50 samples are averaged by the filter.
        alpha = self.config.elastic_alpha
        noise = np.frombuffer(rng.bytes(h * 2 * n * w), dtype=np.uint8).astype(np.float32).reshape(h, 2 * n, w)
        noise *= np.float32(alpha / 128.0)
        noise -= np.float32(alpha * (1.0 - 0.5 / 128.0))
        along_x = np.matmul(noise.reshape(h * 2 * n, w), self.gauss_x).reshape(h, 2 * n * w)
        return np.matmul(self.gauss_y, along_x).reshape(h, 2 * n, w)

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if images.dtype != np.uint8:
            raise ValueError(f"augment: images must be uint8, got {images.dtype}")
        n = images.shape[0]
        if images.size != n * self.h * self.w:
            raise ValueError(f"augment: images of shape {images.shape} are not {n} images of {self.h}x{self.w}")
        if n == 0:
            return images.copy()
        cfg = self.config
        if not cfg.affine and not cfg.elastic_alpha:
            return self._shifted(images, rng)
        ws = self._workspace(n)
        sx, sy, tmp = ws["sx"], ws["sy"], ws["tmp"]
        # Source position of each output pixel: centre + M @ (offset from centre) - shift + elastic.
        if cfg.affine:
            a, b, c, d = self._matrices(n, rng)
            np.multiply(a, self.gx, out=sx)
            np.multiply(b, self.gy, out=tmp)
            sx += tmp
            np.multiply(c, self.gx, out=sy)
            np.multiply(d, self.gy, out=tmp)
            sy += tmp
        else:
            sx[...] = self.gx
            sy[...] = self.gy
        if cfg.shift:
            t = rng.integers(-cfg.shift, cfg.shift, size=(2, n, 1), endpoint=True).astype(np.float32)
            sx -= t[0]
            sy -= t[1]
        if cfg.elastic_alpha:
            field = self._elastic(n, rng)
            sx.reshape(n, self.h, self.w)[...] += field[:, :n].transpose(1, 0, 2)
            sy.reshape(n, self.h, self.w)[...] += field[:, n:].transpose(1, 0, 2)
        sx += np.float32(self.cx)
        sy += np.float32(self.cy)
        return self._bilinear(images, ws)

    def _shifted(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Whole-pixel shifts only: one gather from a zero-padded copy, no interpolation."""
        n, k, h, w = images.shape[0], self.config.shift, self.h, self.w
        ph, pw = h + 2 * k, w + 2 * k
        padded = np.zeros((n, ph, pw), dtype=np.uint8)
        padded[:, k:k + h, k:k + w] = images.reshape(n, h, w)
        t = rng.integers(-k, k, size=(2, n, 1), endpoint=True)
        # Output pixel (y, x) reads source (y - ty, x - tx), i.e. padded (y - ty + k, x - tx + k).
        ys, xs = np.divmod(np.arange(h * w), w)
        idx = (ys * pw + xs + (k * pw + k))[None, :] - (t[1] * pw + t[0]) + (np.arange(n) * (ph * pw))[:, None]
        return np.take(padded.reshape(-1), idx).reshape(images.shape)

    def _bilinear(self, images: np.ndarray, ws: dict[str, np.ndarray]) -> np.ndarray:
        """Sample every image at (sx, sy) with bilinear weights; outside the image reads 0."""
        h, w = self.h, self.w
        n = images.shape[0]
        sx, sy, x0, y0, idx = ws["sx"], ws["sy"], ws["x0"], ws["y0"], ws["idx"]
        top, bot, v1 = ws["top"], ws["bot"], ws["v1"]
        padded = ws["padded"]  # float32 with a one-pixel zero border: every clipped neighbour is a valid read
        padded[:, 1:-1, 1:-1] = images.reshape(n, h, w)
        # Clip to [-1, size]: beyond that every neighbour is border (zero) anyway.
        np.clip(sx, -1.0, float(w), out=sx)
        np.clip(sy, -1.0, float(h), out=sy)
        np.floor(sx, out=top)
        x0[...] = top
        np.minimum(x0, w - 1, out=x0)
        np.floor(sy, out=top)
        y0[...] = top
        np.minimum(y0, h - 1, out=y0)
        sx -= x0  # now the fractional weights fx, fy in [0, 1]
        sy -= y0
        # Flat index of the top-left neighbour in the padded batch: base + (y0 + 1) * (w + 2) + (x0 + 1).
        np.multiply(y0, w + 2, out=idx)
        idx += x0
        idx += ws["base"] + (w + 3)
        flat = padded.reshape(-1)
        # top = v00 + fx (v01 - v00), bot likewise, out = top + fy (bot - top): exact when fx = fy = 0.
        np.take(flat, idx, out=top)
        idx += 1
        np.take(flat, idx, out=v1)
        v1 -= top
        v1 *= sx
        top += v1
        idx += w + 1
        np.take(flat, idx, out=bot)
        idx += 1
        np.take(flat, idx, out=v1)
        v1 -= bot
        v1 *= sx
        bot += v1
        bot -= top
        bot *= sy
        top += bot
        np.rint(top, out=top)
        np.clip(top, 0, 255, out=top)
        return top.astype(np.uint8).reshape(images.shape)


def square_shape(pixels: int) -> tuple[int, int]:
    """(side, side) for flattened square images of `pixels` pixels (784 -> (28, 28))."""
    side = math.isqrt(pixels)
    if side * side != pixels:
        raise ValueError(f"augment: images of {pixels} pixels are not square; augmentation needs square images")
    return side, side


def make_augmenter(config: AugmentConfig | None, shape: tuple[int, int] = MNIST_SHAPE) -> Augmenter | None:
    """The Solver's `augment=` hook for `config`, or None when nothing is switched on."""
    if config is None or not config.active:
        return None
    return Augmenter(config, shape)


def describe(config: AugmentConfig) -> dict[str, Any]:
    """JSON-able summary of the settings (for metrics and figure titles)."""
    return {k: getattr(config, k) for k in ("shift", "rotation", "scale", "shear", "elastic_alpha", "elastic_sigma")}
