"""Accuracy of a saved model on MNIST test digits drawn as a user's picture would be: dark ink on a white
square page, at a random size and place. Compares feeding the whole page resized to 28x28 with preparing
it as MNIST's digits were (pipeline.use.prepare), and the digits as MNIST has them.

    .venv/bin/python benchmarks/prepare_accuracy.py [--model models/best.npz] [--count 10000] [--page 200]
"""
from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from pipeline.data.split import load_prepared
from pipeline.persistence import load_model
from pipeline.use.prepare import prepare
from pipeline.use.predictor import probabilities


def page_of(digit: np.ndarray, page: int, rng: np.random.Generator) -> np.ndarray:
    """The 28x28 digit enlarged (bicubic) to a random 30-80 % of the page side, dark on white, at a random place."""
    side = int(rng.integers(int(0.3 * page), int(0.8 * page) + 1))
    top, left = rng.integers(0, page - side + 1, 2)
    ink = np.zeros((page, page), dtype=np.uint8)
    ink[top:top + side, left:left + side] = np.asarray(Image.fromarray(digit).resize((side, side),
                                                                                     Image.Resampling.BICUBIC))
    return 255 - ink


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/best.npz")
    parser.add_argument("--test", default="data/prepared/test.npz")
    parser.add_argument("--count", type=int, default=10000, help="test digits used (the first N)")
    parser.add_argument("--page", type=int, default=200, help="page side, pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model, _ = load_model(args.model)
    images, labels = load_prepared(args.test)
    images, labels = images[:args.count].reshape(-1, 28, 28), labels[:args.count]
    rng = np.random.default_rng(args.seed)
    naive, prepared = [], []
    for digit in images:
        page = page_of(digit, args.page, rng)
        # the resized page inverted back to light on dark, so only the framing differs from MNIST's
        naive.append(255 - np.asarray(Image.fromarray(page).resize((28, 28), Image.Resampling.LANCZOS)))
        prepared.append(prepare(page))
    results = {}
    for name, batch in (("MNIST's own 28x28 digits", images), (f"{args.page}x{args.page} page resized to 28x28", naive),
                        (f"{args.page}x{args.page} page prepared as MNIST's were", prepared)):
        results[name] = float(np.mean(probabilities(model, np.stack(batch)).argmax(1) == labels))
    print(f"{args.model} on the first {len(labels)} test digits (seed {args.seed}):")
    print("| input | accuracy |\n|---|---:|")
    for name, acc in results.items():
        print(f"| {name} | {100 * acc:.2f} % |")
    return results


if __name__ == "__main__":
    main()
