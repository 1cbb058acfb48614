"""Fixtures of the model-use tests: the real MNIST test digits and a small model trained on real MNIST."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.data import official
from pipeline.data.idx import read_idx


@pytest.fixture(scope="session")
def mnist_test(packaged_raw) -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (N, 28, 28) uint8 and their labels."""
    raw = packaged_raw[0]
    return read_idx(raw / official.TEST_IMAGES), read_idx(raw / official.TEST_LABELS)


@pytest.fixture(scope="session")
def digit_model(packaged_raw, tmp_path_factory) -> Path:
    """A 64-unit model trained 2 epochs on 10,000 real MNIST training digits (about 95 % test accuracy),
    inputs centred by the training mean so the ONNX graph's Mul and Sub are exercised too."""
    from pipeline.training import TrainParams, save_trained, train

    raw = packaged_raw[0]
    images = read_idx(raw / official.TRAIN_IMAGES).reshape(-1, 784)
    labels = read_idx(raw / official.TRAIN_LABELS)
    data = {"X_train": images[:10000], "y_train": labels[:10000], "X_val": images[-1000:], "y_val": labels[-1000:]}
    config = TrainParams(hidden_dim=64, init="he", input_scaling="unit_centered", update_rule="adam",
                         num_epochs=2, train_acc_samples=1000)
    result = train(config, data, verbose=False, progress=False)
    path = tmp_path_factory.mktemp("model") / "digits.npz"
    save_trained(path, result.model, config, data, result.solver.best_val_acc)
    return path
