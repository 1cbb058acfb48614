"""Data augmentation: random shifts, affine maps (rotation, scale, shear) and elastic distortions.

Every image of a batch gets its own random transform, and the whole batch is resampled at once
(no per-image Python loop): each output pixel reads the source image at a transformed position
by bilinear interpolation, with zeros outside the image. Shifts are whole pixels, so a pure shift
moves pixels exactly; with every magnitude zero the output equals the input.

Elastic distortions follow Simard et al. (2003): a per-image displacement field of uniform noise
in [-1, 1], smoothed by a Gaussian of std `elastic_sigma` pixels and scaled by `elastic_alpha`.
The field is drawn directly with that smoothed noise's covariance, from a few noise values per
image mapped through the filter's leading eigenvectors (smooth_noise_factor): two matrix products
over the whole batch, so scipy is not needed.
"""
from __future__ import annotations

import math
import sys
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


def random_bytes(rng: np.random.Generator, count: int) -> np.ndarray:
    """`rng.bytes(count)` as a uint8 array: the same bytes, and `rng` left in the same state.

    Generator.bytes draws its bytes as bounded uint32 integers, ~30x slower than the raw 64-bit
    outputs they are made of. For PCG64 with no half-used output pending, the raw outputs are
    those bytes (little-endian), so they are taken directly; any other case calls rng.bytes.
    """
    bitgen = rng.bit_generator
    if (count % 8 == 0 and sys.byteorder == "little" and type(bitgen) in (np.random.PCG64, np.random.PCG64DXSM)
            and not bitgen.state["has_uint32"]):
        return bitgen.random_raw(count // 8).view(np.uint8)
    return np.frombuffer(rng.bytes(count), dtype=np.uint8)


def smooth_noise_factor(n: int, sigma: float, leftover: float = 1e-6) -> np.ndarray:
    """(n, k) float32 factor A with A @ A.T = G @ G.T up to a fraction `leftover` of its trace, G = gaussian_matrix.

    Filtering i.i.d. noise with G gives a field of covariance var * G G.T. So does A z for k i.i.d.
    values z of the same variance, and k is small for smooth fields (sigma 4 on 28 pixels: k = 9),
    because G G.T's eigenvalues fall off like the Gaussian's spectrum. A is G G.T's leading
    eigenvectors scaled by the square roots of their eigenvalues, each column's sign fixed (its first
    large entry positive) so that A does not depend on the eigensolver.
    """
    g = gaussian_matrix(n, sigma).astype(np.float64)
    cov = g @ g.T
    values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1].clip(min=0.0), vectors[:, ::-1]
    missing = 1.0 - np.cumsum(values) / values.sum()
    k = int(np.argmax(missing <= leftover)) + 1
    factor = vectors[:, :k] * np.sqrt(values[:k])
    # The first entry of at least half the column's largest magnitude (ties between +v and -v cannot decide it).
    lead = (np.abs(factor) >= 0.5 * np.abs(factor).max(axis=0)).argmax(axis=0)
    return (factor * np.sign(factor[lead, np.arange(k)])).astype(np.float32)


class Augmenter:
    """Callable `(images, rng) -> distorted images`: the Solver's `augment=` hook.

    `images` is uint8, (N, H*W) flattened rows or (N, H, W); the result has the same shape and
    dtype, a new array. Labels are untouched (the distortions keep the digit's class). The random
    draws come only from `rng`, in a fixed order, so a seed fixes the output. Temporaries are
    reused across calls with the same batch size (training sees one size).

    The elastic field of each image and axis is A_y Z A_x.T, with Z a (k, k) matrix of uniform noise
    in [-1, 1] and A = smooth_noise_factor: the same covariance as Simard et al.'s G N G.T (N a full
    image of that noise), from k * k draws instead of H * W (k = 9 for sigma 4 against 28 pixels).
    """

    def __init__(self, config: AugmentConfig, shape: tuple[int, int] = MNIST_SHAPE) -> None:
        self.config = config
        h, w = self.h, self.w = int(shape[0]), int(shape[1])
        # Coordinates relative to the image centre (half-integers for even sizes: exact in float32).
        self.cy, self.cx = (h - 1) / 2.0, (w - 1) / 2.0
        self.gx = np.arange(w, dtype=np.float32) - np.float32(self.cx)
        self.gy = np.arange(h, dtype=np.float32) - np.float32(self.cy)
        self.centre = np.array([self.cx + 1, self.cy + 1], dtype=np.float32)[:, None, None]  # + 1: the padding
        self.lift: np.ndarray | None = None
        if config.elastic_alpha:
            # The field is two GEMMs; see _positions. Noise bytes u become alpha * ((u + 0.5) / 128 - 1)
            # = scale * u + offset, and the field is linear in the noise: the scale goes into the first
            # GEMM's factor, the offset into a constant field offset * (A_y 1)(y) * (A_x 1)(x).
            scale, offset = config.elastic_alpha / 128.0, -config.elastic_alpha * (1.0 - 0.5 / 128.0)
            factor_y = smooth_noise_factor(h, config.elastic_sigma)
            factor_x = smooth_noise_factor(w, config.elastic_sigma)
            self.k_y, self.k_x = factor_y.shape[1], factor_x.shape[1]
            self.noise_y = (factor_y.T * np.float32(scale)).astype(np.float32)  # (k_y, H)
            self.offset_y = (offset * factor_y.sum(axis=1, dtype=np.float64)).astype(np.float32)
            # lift's rows: A_x.T, then (x - cx) for the affine x coefficient, 1 for the rest, A_x 1 for the offset.
            self.lift = np.vstack([factor_x.T, self.gx, np.ones(w, dtype=np.float32),
                                   factor_x.sum(axis=1, dtype=np.float64)]).astype(np.float32)
        self._ws: dict[int, dict[str, np.ndarray]] = {}

    def _workspace(self, n: int) -> dict[str, np.ndarray]:
        ws = self._ws.get(n)
        if ws is None:
            self._ws.clear()
            h, w = self.h, self.w
            f = lambda *shape: np.empty(shape, dtype=np.float32)  # noqa: E731
            ws = self._ws[n] = {
                "field": f(2, n, h, w),
                # The two pixels gathered and the steps to their right neighbours (d01 = v01 - v00, d11 = v11 - v10).
                "v00": f(n, h, w), "d01": f(n, h, w), "v10": f(n, h, w), "d11": f(n, h, w),
                "i32": np.empty((n, h, w), dtype=np.int32), "idx": np.empty((n, h, w), dtype=np.intp),
                # One zero row and column before each image, two after: every clipped neighbour is a valid read.
                "padded": np.zeros((n, h + 3, w + 3), dtype=np.float32),
                "step_x": np.zeros(n * (h + 3) * (w + 3), dtype=np.float32),
                # Each pixel's image's first flat index, as a full array: adding it is a plain, vectorised pass.
                "base": np.repeat(np.arange(n, dtype=np.float32) * np.float32((h + 3) * (w + 3)), h * w).reshape(n, h, w),
            }
            if self.lift is not None:
                k = self.k_x
                ws["rows"] = f(k + 3, 2, n, h)
                ws["rows"][k + 2] = self.offset_y  # pairs with lift's offset row
        return ws

    def _matrices(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per-image sampling matrices M (output offset -> source offset) as two (2, n, 1) arrays:
        the coefficients of (x - cx) and of (y - cy) in the source's x ([0]) and y ([1])."""
        cfg = self.config
        if not cfg.affine:
            on_x, on_y = np.zeros((2, n, 1), dtype=np.float32), np.zeros((2, n, 1), dtype=np.float32)
            on_x[0], on_y[1] = 1.0, 1.0
            return on_x, on_y
        theta = np.deg2rad(rng.uniform(-cfg.rotation, cfg.rotation, n)) if cfg.rotation else np.zeros(n)
        zoom = rng.uniform(1.0 - cfg.scale, 1.0 + cfg.scale, n) if cfg.scale else np.ones(n)
        shear = np.tan(np.deg2rad(rng.uniform(-cfg.shear, cfg.shear, n))) if cfg.shear else np.zeros(n)
        cos, sin = np.cos(theta) / zoom, np.sin(theta) / zoom
        # Rotation @ shear-along-x, divided by the zoom (sampling at 1/zoom magnifies by zoom).
        on_x = np.stack([cos, sin]).astype(np.float32)[:, :, None]
        on_y = np.stack([cos * shear - sin, sin * shear + cos]).astype(np.float32)[:, :, None]
        return on_x, on_y

    def _positions(self, n: int, rng: np.random.Generator, ws: dict[str, np.ndarray]) -> np.ndarray:
        """Where each output pixel reads, in padded pixels: (2, n, H, W), [0] along x and [1] along y.

        Source = centre + M @ (offset from centre) - shift + elastic displacement, + 1 for the padding.
        Per image, M's x part is a row over x, its y part with the centre and shift a column over y.
        With elastic distortions the noise Z is drawn in (k_x, 2n, k_y) layout (i.i.d., so any layout
        will do) as random bytes: 256 levels, several times cheaper than float draws, indistinguishable
        once the factors have summed k_x * k_y of them. One GEMM applies A_y, giving rows[:k_x]; a second
        applies A_x and adds the affine and constant rows, rows[k_x:], at the same time.
        """
        cfg = self.config
        on_x, on_y = self._matrices(n, rng)
        shift = (rng.integers(-cfg.shift, cfg.shift, size=(2, n, 1), endpoint=True).astype(np.float32)
                 if cfg.shift else np.zeros((2, n, 1), dtype=np.float32))
        field = ws["field"]
        if self.lift is None:
            along_y = on_y * self.gy
            along_y += self.centre - shift
            np.add(along_y[:, :, :, None], (on_x * self.gx)[:, :, None, :], out=field)
            return field
        rows, k_x, k_y, h, w = ws["rows"], self.k_x, self.k_y, self.h, self.w
        rows[k_x] = on_x
        np.multiply(on_y, self.gy, out=rows[k_x + 1])
        rows[k_x + 1] += self.centre - shift
        noise = random_bytes(rng, k_x * 2 * n * k_y).astype(np.float32).reshape(k_x * 2 * n, k_y)
        np.matmul(noise, self.noise_y, out=rows[:k_x].reshape(k_x * 2 * n, h))
        np.matmul(rows.reshape(k_x + 3, 2 * n * h).T, self.lift, out=field.reshape(2 * n * h, w))
        return field

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
        field = self._positions(n, rng, ws)
        return self._bilinear(images, field[0], field[1], ws)

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

    def _bilinear(self, images: np.ndarray, sx: np.ndarray, sy: np.ndarray, ws: dict[str, np.ndarray]) -> np.ndarray:
        """Sample every image at padded positions (sx, sy), (n, H, W), bilinearly; outside the image reads 0.

        Works in place on sx and sy. The index arithmetic is done on integer-valued float32 (exact
        below 2**24) and converted to integers once.
        """
        h, w = self.h, self.w
        n = images.shape[0]
        pw = w + 3
        padded = ws["padded"]
        padded[:, 1:h + 1, 1:w + 1] = images.reshape(n, h, w)
        # Clip to [0, size + 1]: beyond that every neighbour is border (zero) anyway.
        np.clip(sx, 0.0, float(w + 1), out=sx)
        np.clip(sy, 0.0, float(h + 1), out=sy)
        x0, y0 = np.floor(sx, out=ws["v10"]), np.floor(sy, out=ws["d11"])  # free until the gathers
        sx -= x0  # now the fractional weights fx, fy in [0, 1)
        sy -= y0
        # Flat index of the top-left neighbour in the padded batch: base + y0 * (w + 3) + x0.
        y0 *= np.float32(pw)
        y0 += x0
        y0 += ws["base"]
        np.copyto(ws["i32"], y0, casting="unsafe")  # float32 -> int32 is vectorised; float32 -> int64 is not
        idx = ws["idx"]
        np.copyto(idx, ws["i32"])
        flat, step_x = padded.reshape(-1), ws["step_x"]
        np.subtract(flat[1:], flat[:-1], out=step_x[:-1])  # each pixel's right neighbour minus itself
        v00, d01, v10, d11 = ws["v00"], ws["d01"], ws["v10"], ws["d11"]
        # The neighbours through shifted views of the batch: no index arithmetic per neighbour. Every index
        # is in range, so mode="wrap" never wraps; it is the fastest mode that writes straight into `out`.
        np.take(flat, idx, out=v00, mode="wrap")
        np.take(step_x, idx, out=d01, mode="wrap")
        np.take(flat[pw:], idx, out=v10, mode="wrap")
        np.take(step_x[pw:], idx, out=d11, mode="wrap")
        # top = v00 + fx (v01 - v00), bot likewise, out = top + fy (bot - top): exact when fx = fy = 0.
        d01 *= sx
        v00 += d01
        d11 *= sx
        v10 += d11
        v10 -= v00
        v10 *= sy
        v00 += v10
        np.rint(v00, out=v00)  # in [0, 255] up to rounding: the weights are in [0, 1]
        out = np.empty((n, h, w), dtype=np.uint8)
        np.copyto(out, v00, casting="unsafe")
        return out.reshape(images.shape)


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
