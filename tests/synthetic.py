"""Small learnable synthetic data for solver and training tests."""
from __future__ import annotations

import numpy as np


def block_images(n: int, rng: np.random.Generator, num_classes: int = 4, dim: int = 64):
    """uint8 'images' whose class k lights up the k-th block of dim // num_classes pixels, over noise."""
    y = rng.integers(0, num_classes, n)
    X = rng.integers(0, 80, (n, dim))
    width = dim // num_classes
    for k in range(num_classes):
        X[y == k, k * width : (k + 1) * width] += 150
    return X.astype(np.uint8), y
