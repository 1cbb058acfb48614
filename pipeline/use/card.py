"""The model card of the search's best model (reports/model_card.md): what it was trained on and how,
how well it does on the test set and where it errs, what it was not tested on, and how to use it."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.evaluate import Evaluation

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
TOP_CONFUSIONS = 5


def wilson_interval(correct: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion `correct`/`total` (95 % by default)."""
    if total <= 0:
        raise ValueError("an interval needs at least one trial")
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def confused_pairs(confusion: np.ndarray, top: int = TOP_CONFUSIONS) -> list[tuple[int, int, int]]:
    """The `top` most frequent mistakes as (actual, predicted, count), most frequent first (ties: by class)."""
    off = [(int(confusion[a, p]), a, p) for a in range(confusion.shape[0]) for p in range(confusion.shape[1])
           if a != p and confusion[a, p] > 0]
    off.sort(key=lambda t: (-t[0], t[1], t[2]))
    return [(a, p, n) for n, a, p in off[:top]]


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def model_card(model_path: str, meta: dict[str, Any], evaluation: Evaluation, test_path: str) -> str:
    """The card as Markdown, from the model's metadata and its evaluation on the test split."""
    n = int(evaluation.confusion.sum())
    correct = int(np.trace(evaluation.confusion))
    lo, hi = wilson_interval(correct, n)
    cfg = meta.get("train_config", {})
    pre = meta.get("preprocessing", {}).get("mode", "?")
    lines = [
        f"# Model card: {model_path}",
        "",
        f"A two-layer fully connected network (affine, ReLU, affine, softmax): {meta.get('input_dim')} inputs "
        f"(28x28 grey pixels), {meta.get('hidden_dim')} hidden units, {meta.get('num_classes')} classes "
        f"(the digits 0-9); {meta.get('dtype')} arithmetic, numpy only.",
        "",
        "## Data and split",
        "",
        "MNIST (the official IDX files, SHA-256 checked): the 60,000 training images less a seeded random "
        "validation set (params.yaml:split) for training and model selection; the 10,000 test images "
        f"({test_path}) only here. SHA-256 of the training images and labels: "
        f"`{meta.get('train_data_sha256', 'not recorded')}`.",
        "",
        "## Training",
        "",
        "| setting | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(cfg.items())],
        f"| input preprocessing | {pre} |",
        "",
        f"Chosen by the search stage (params.yaml:search) for its validation accuracy, "
        f"{_pct(float(meta['best_val_acc'])) if 'best_val_acc' in meta else 'not recorded'}.",
        "",
        "## Test accuracy",
        "",
        f"**{_pct(correct / n)}** ({correct} of {n} test images; {n - correct} errors); "
        f"95 % confidence interval {_pct(lo)} to {_pct(hi)} (Wilson score interval).",
        "",
        "| class | test images | accuracy |",
        "|---|---|---|",
        *[f"| {c} | {int(t)} | {_pct(a) if t else '-'} |"
          for c, (t, a) in enumerate(zip(evaluation.confusion.sum(axis=1), evaluation.per_class_accuracy()))],
        "",
        "Most frequent mistakes:",
        "",
        "| actual | predicted | test images |",
        "|---|---|---|",
        *[f"| {a} | {p} | {k} |" for a, p, k in confused_pairs(evaluation.confusion)],
        "",
        "## Not tested on",
        "",
        "- Handwriting other than MNIST's (its writers were US Census Bureau employees and high-school "
        "students); photos of digits; digits drawn with a mouse or a finger (`pipeline.serve`).",
        "- Images not prepared as MNIST's were: the model expects light ink on black, the digit's bounding "
        "box scaled to 20x20 inside 28x28 and centred on its centre of mass. `pipeline.predict` and the page "
        "prepare images that way; a consumer of the ONNX graph must do it itself.",
        "- Anything that is not one digit (letters, several digits, a blank page): the model always answers "
        "one of the ten digits, with no 'none of these'. Its probabilities have not been checked for calibration.",
        "- Rotated, mirrored or heavily slanted digits; adversarial inputs.",
        "",
        "## How to use it",
        "",
        "```sh",
        f"python -m pipeline.predict --model {model_path} digit.png photos/       # path, digit, probability",
        f"python -m pipeline.predict --model {model_path} --json --show-input seen.png digit.png",
        f"python -m pipeline.serve --model {model_path}                           # draw at http://127.0.0.1:8000/",
        "```",
        "",
        "ONNX: `models/best.onnx` (export stage) takes `pixels`, uint8 (N, 28, 28), already prepared as "
        "above, and gives `probabilities` (N, 10); the model's own input scaling is inside the graph.",
        "",
    ]
    return "\n".join(lines)
