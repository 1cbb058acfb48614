"""Figure: original digits beside randomly distorted versions of them (what augmentation trains on)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import matplotlib as mpl
import numpy as np

from pipeline.nn.augment import AugmentConfig, Augmenter, describe
from pipeline.plotting.render import new_figure, save, style
from pipeline.training import AUGMENT_PREFIX

GAP = 1  # pixel between tiles, drawn light grey


def augmentation_mosaic(images: np.ndarray, config: AugmentConfig, versions: int = 6, seed: int = 0,
                        shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """(rows, cols) float image: row i is images[i], then `versions` distortions of it; NaN in the gaps.

    The distortions come from one seeded batch call, so the mosaic is the same for the same seed.
    """
    imgs = np.asarray(images)
    if imgs.dtype != np.uint8 or imgs.ndim != 2 or imgs.shape[1] != shape[0] * shape[1]:
        raise ValueError(f"images: expected uint8 of shape (N, {shape[0] * shape[1]}), got {imgs.dtype} {imgs.shape}")
    if versions < 1:
        raise ValueError(f"versions = {versions!r}: expected an integer >= 1")
    n = imgs.shape[0]
    distorted = Augmenter(config, shape)(np.repeat(imgs, versions, axis=0), np.random.default_rng(seed))
    tiles = np.concatenate([imgs[:, None], distorted.reshape(n, versions, -1)], axis=1)  # (n, 1 + versions, P)
    h, w = shape
    cols = versions + 1
    mosaic = np.full((n * (h + GAP) - GAP, cols * (w + GAP) - GAP), np.nan)
    for r in range(n):  # a handful of rows: the tiles themselves are placed by slicing
        block = tiles[r].reshape(cols, h, w)
        for c in range(cols):
            mosaic[r * (h + GAP):r * (h + GAP) + h, c * (w + GAP):c * (w + GAP) + w] = block[c]
    return mosaic


def plot_augmentation(images: np.ndarray, config: AugmentConfig, path: str | os.PathLike, versions: int = 6,
                      seed: int = 0, title: str = "") -> Path:
    """Write a PNG: each of `images` (uint8, (N, 784)) in the first column, distorted versions to its right."""
    mosaic = augmentation_mosaic(images, config, versions, seed)
    settings = ", ".join(f"{k} {v:g}" for k, v in describe(config).items() if v and (k != "elastic_sigma"
                                                                                       or config.elastic_alpha))
    with style():
        height, width = mosaic.shape
        fig = new_figure((max(width / 40, 4.0), height / 40 + 0.9))
        ax = fig.subplots()
        ax.imshow(mosaic, cmap=mpl.colormaps["gray_r"].with_extremes(bad="#e4e4e4"), vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_axis_off()
        fig.suptitle(title or "Augmentation: original (left), distorted versions (right)", fontsize=11, wrap=True)
        ax.set_title(settings or "no distortion", fontsize=9)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return save(fig, path)


def augment_config_of(train_config: Mapping[str, Any], where: str = "train_config") -> AugmentConfig:
    """The augmentation settings among a recorded training config's augment_* keys (absent keys: off)."""
    values = {k.removeprefix(AUGMENT_PREFIX): v for k, v in train_config.items() if k.startswith(AUGMENT_PREFIX)}
    try:
        return AugmentConfig(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: bad augmentation settings {values}: {exc}") from exc


def example_digits(images: np.ndarray, labels: np.ndarray, per_class: int = 1) -> np.ndarray:
    """The first `per_class` images of each class present, class by class (rows of the figure)."""
    picks = [np.flatnonzero(labels == k)[:per_class] for k in np.unique(labels)]
    return images[np.concatenate(picks)] if picks else images[:0]


def trained_augmentation(train_config: Mapping[str, Any], where: str = "train_config") -> AugmentConfig | None:
    """The augmentation a model was trained with (its recorded config's augment_* keys), or None without any."""
    config = augment_config_of(train_config, where)
    return config if config.active else None


def plot_model_augmentation(config: AugmentConfig, images: np.ndarray, labels: np.ndarray,
                            path: str | os.PathLike) -> Path:
    """The plot stage's augmentation figure: `config`'s distortions of one digit per class of `images`."""
    return plot_augmentation(example_digits(images, labels), config, path,
                             title="Augmentation used by the train stage: originals (left), distorted (right)")
