"""Input preprocessing as an explicit, recorded choice: uint8 images -> float batches."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MODES = ("raw", "unit", "unit_centered")


@dataclass
class Preprocessor:
    """How uint8 pixels become network inputs.

    raw: 0-255 as floats (what the assignment used); unit: scaled to [0, 1];
    unit_centered: scaled to [0, 1] minus the training set's per-pixel mean (kept in `mean`).
    """

    mode: str = "raw"
    mean: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"preprocessing mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.mode == "unit_centered" and self.mean is None:
            raise ValueError("preprocessing mode 'unit_centered' needs the training mean; use Preprocessor.fit")
        if self.mode != "unit_centered" and self.mean is not None:
            raise ValueError(f"preprocessing mode {self.mode!r} takes no mean (only 'unit_centered' does)")

    @classmethod
    def fit(cls, mode: str, train_images: np.ndarray) -> "Preprocessor":
        """Build the preprocessor for `mode`, computing what it needs from the training images."""
        mean = None
        if mode == "unit_centered":
            mean = train_images.mean(axis=0, dtype=np.float64) / 255.0
        return cls(mode, mean)

    def transform(self, images: np.ndarray, dtype: Any = np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """Convert uint8 images (N, D) to floats of `dtype`, into `out` when given."""
        if out is None:
            out = np.empty(images.shape, dtype=dtype)
        np.copyto(out, images, casting="unsafe")
        if self.mode != "raw":
            out *= out.dtype.type(1.0 / 255.0)
        if self.mean is not None:
            out -= self._mean_as(out.dtype)
        return out

    def _mean_as(self, dtype: np.dtype) -> np.ndarray:
        # Cast once per dtype, not once per batch.
        cache = self.__dict__.setdefault("_mean_cache", {})
        if dtype not in cache:
            cache[dtype] = self.mean.astype(dtype)
        return cache[dtype]

    def describe(self) -> dict[str, Any]:
        """JSON-able description for model metadata (the mean itself is stored as an array)."""
        return {"mode": self.mode, "has_mean": self.mean is not None}
