"""Deterministic matplotlib figures (PNG) for the MNIST two-layer-network pipeline.

Every public ``plot_*`` function draws one figure and writes it, atomically, as a PNG to ``path``;
rendering the same inputs twice gives the same bytes (see `render`).

  render         style, Agg-backed Figure, atomic PNG saving, colours
  arrays         argument checks, per-tile min-max scaling, the one near-square grid helper
  curves         training loss per iteration, train/val accuracy per epoch
  weights        W1 columns as 28x28 tiles, W2 columns as near-square tiles
  confusion      10x10 confusion matrix
  misclassified  misclassified test digits
  search         search grid heatmaps
  augmentation   originals beside their distorted versions (when training augments)
"""
from pipeline.plotting.arrays import near_square
from pipeline.plotting.confusion import FIGSIZE_CONFUSION, plot_confusion_matrix
from pipeline.plotting.curves import FIGSIZE_TRAINING, plot_training_curves
from pipeline.plotting.misclassified import misclassified_figsize, plot_misclassified
from pipeline.plotting.render import DPI
from pipeline.plotting.search import plot_search_results, search_figsize
from pipeline.plotting.weights import FIGSIZE_W1, FIGSIZE_W2, plot_w1_tiles, plot_w2_tiles, w1_mosaic

__all__ = [
    "DPI", "FIGSIZE_CONFUSION", "FIGSIZE_TRAINING", "FIGSIZE_W1", "FIGSIZE_W2",
    "near_square", "misclassified_figsize", "search_figsize", "w1_mosaic",
    "plot_training_curves", "plot_w1_tiles", "plot_w2_tiles", "plot_confusion_matrix", "plot_misclassified",
    "plot_search_results",
]
