"""The ten class probabilities a saved model gives 28x28 uint8 images (its own preprocessing applied)."""
from __future__ import annotations

import numpy as np

from pipeline.nn.model import TwoLayerNet


def probabilities(model: TwoLayerNet, images: np.ndarray) -> np.ndarray:
    """Softmax of the model's scores, (N, num_classes) float64, for uint8 images (N, 28, 28) or (N, 784)."""
    flat = np.ascontiguousarray(images, dtype=np.uint8).reshape(images.shape[0], -1)
    if flat.shape[1] != model.input_dim:
        raise ValueError(f"images have {flat.shape[1]} pixels; the model takes {model.input_dim}")
    scores = np.asarray(model.loss(model.preprocessor.transform(flat, dtype=model.dtype)), dtype=np.float64)
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores
