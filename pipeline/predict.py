"""Ask a trained model about images: `python -m pipeline.predict [--model PATH] [--json] PATH...`.

Each PATH is an image file (PNG, JPEG, BMP, GIF, ...; any size, colour or grey, either polarity), a folder
of them, or an .npz/IDX file of 28x28 uint8 images. Images are prepared as MNIST's digits were
(pipeline.use.prepare). Prints `path  digit  probability` per image, or with --json a list of
{"path", "digit", "probabilities"}. A bad input gets one line on stderr naming it; the others are still
predicted, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from pipeline.common.cli import run_stage
from pipeline.errors import PipelineError
from pipeline.persistence import load_model
from pipeline.use.grid import save_input_grid
from pipeline.use.inputs import collect
from pipeline.use.predictor import probabilities


class InputsFailed(PipelineError):
    """Some inputs could not be predicted (each was reported on its own line)."""


def main(args: argparse.Namespace) -> None:
    model, _ = load_model(args.model)
    names, images, failed = [], [], 0
    for item in collect(args.paths):
        if item.error is not None:
            failed += 1
            print(f"predict: error: {item.error}", file=sys.stderr)
        else:
            names.append(item.name)
            images.append(item.image)
    stack = np.stack(images) if images else np.zeros((0, 28, 28), dtype=np.uint8)
    probs = probabilities(model, stack) if images else np.zeros((0, model.num_classes))
    digits = probs.argmax(axis=1)
    if args.json:
        json.dump([{"path": n, "digit": int(d), "probabilities": [float(p) for p in row]}
                   for n, d, row in zip(names, digits, probs)], sys.stdout, indent=1)
        print()
    else:
        for n, d, row in zip(names, digits, probs):
            print(f"{n}  {d}  {row[d]:.4f}")
    if args.show_input and images:
        save_input_grid(args.show_input, stack)
    if failed:
        raise InputsFailed(f"{failed} of {failed + len(names)} inputs could not be predicted (see above)")


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m pipeline.predict`."""
    p = argparse.ArgumentParser(prog="predict", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders of images, .npz/IDX files")
    p.add_argument("--model", default="models/best.npz", help="model file (.npz written by train or search)")
    p.add_argument("--json", action="store_true", help="print a JSON list with all ten probabilities per image")
    p.add_argument("--show-input", metavar="OUT.png", help="save the 28x28 inputs the model saw, as a grid")
    return p


if __name__ == "__main__":
    run_stage(main, parser())
