#!/usr/bin/env python
"""Augmentation benchmark: the cost of distorting each minibatch beside the training step it feeds.

For each augmentation setting it times, per epoch (N // batch minibatches of uint8 images):

  step     the training step: gather the batch, preprocess it (unit scaling), TwoLayerNet.loss
           forward + backward at H hidden units, an in-place SGD update (what the Solver does);
  augment  pipeline.nn.augment.Augmenter on the same minibatches (what `augment=` adds per batch).

and, through the real training loop (pipeline.nn.loop.TrainingLoop, H hidden units, SGD), one epoch

  plain    without augmentation;
  sync     with the setting's augmentation, each minibatch distorted before its step (the default);
  ahead    with the setting's augmentation, the next minibatch distorted in a background thread
           while the current one trains (LoopSettings(prefetch=True)).

Runs are interleaved (step, augment per setting, plain, sync and ahead per setting, step, ...) and
medians reported, since the machine is noisy. Ratios, each measured in one run: augment / step,
what distorting costs on its own, and (sync - plain) / plain and (ahead - plain) / plain, what
augmentation adds to an epoch of training as it runs, without and with the background thread.

  python benchmarks/bench_augment.py                        # H=800, 55,000 images, 3 repeats
  python benchmarks/bench_augment.py --train-size 2000 --repeats 1 --json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.data.split import load_prepared
from pipeline.nn.augment import AugmentConfig, Augmenter, describe
from pipeline.nn.loop import LoopSettings, TrainingLoop
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.optim import SGD
from pipeline.nn.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parent.parent

SETTINGS: dict[str, AugmentConfig] = {
    "shift": AugmentConfig(shift=2),
    "affine": AugmentConfig(shift=2, rotation=10, scale=0.1, shear=10),
    "elastic": AugmentConfig(elastic_alpha=34, elastic_sigma=4),
    "all": AugmentConfig(shift=2, rotation=10, scale=0.1, shear=10, elastic_alpha=34, elastic_sigma=4),
}


def load_images(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    if args.data:
        path = Path(args.data) / "train.npz"
        if not path.exists():
            raise SystemExit(f"--data {args.data}: {path} does not exist (run the split stage first)")
        images, labels = load_prepared(path)
        n = min(args.train_size, images.shape[0])
        return images[:n], labels[:n], f"{path} (first {n} images)"
    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, (args.train_size, 784), dtype=np.uint8)
    return images, rng.integers(0, 10, args.train_size, dtype=np.uint8), f"synthetic uint8, seed {args.seed}"


def make_step(images: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = one epoch of training steps (no augmentation)."""
    pre = Preprocessor("unit")
    model = TwoLayerNet(784, args.hidden, 10, init="he", seed=0, preprocessor=pre)
    bs = min(args.batch_size, images.shape[0])
    per_epoch = max(images.shape[0] // bs, 1)
    xbuf = np.empty((bs, 784), dtype=model.dtype)
    ubuf = np.empty((bs, 784), dtype=np.uint8)
    ybuf = np.empty(bs, dtype=labels.dtype)
    grads = {k: np.empty_like(v) for k, v in model.params.items()}
    rng = np.random.default_rng(0)
    lr = model.dtype.type(args.lr)

    def run() -> float:
        order = rng.permutation(images.shape[0])
        start = time.perf_counter()
        for b in range(per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            np.take(images, idx, axis=0, out=ubuf)
            np.take(labels, idx, out=ybuf)
            model.loss(pre.transform(ubuf, out=xbuf), ybuf, grads_out=grads)
            for k, p in model.params.items():
                p -= lr * grads[k]
        return time.perf_counter() - start

    return run


def make_augment(images: np.ndarray, config: AugmentConfig, args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = augmenting one epoch's minibatches."""
    aug = Augmenter(config)
    bs = min(args.batch_size, images.shape[0])
    per_epoch = max(images.shape[0] // bs, 1)
    rng = np.random.default_rng(0)

    def run() -> float:
        order = rng.permutation(images.shape[0])
        start = time.perf_counter()
        for b in range(per_epoch):
            aug(images[order[b * bs:(b + 1) * bs]], rng)
        return time.perf_counter() - start

    return run


def make_loop_epoch(images: np.ndarray, labels: np.ndarray, config: AugmentConfig | None, prefetch: bool,
                    args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = one epoch of TrainingLoop.train (accuracy measured on one minibatch only)."""
    bs = min(args.batch_size, images.shape[0])
    model = TwoLayerNet(784, args.hidden, 10, init="he", seed=0, preprocessor=Preprocessor("unit"))
    data = {"X_train": images, "y_train": labels, "X_val": images[:bs], "y_val": labels[:bs]}
    settings = LoopSettings(batch_size=bs, num_epochs=args.repeats + 1, num_train_samples=bs, verbose=False,
                            progress=False, prefetch=prefetch)
    loop = TrainingLoop(model, data, SGD(), lambda epoch: args.lr, settings,
                        augment=None if config is None else Augmenter(config))

    def run() -> float:
        start = time.perf_counter()
        loop.train(until_epoch=loop.epoch + 1)
        return time.perf_counter() - start

    return run


def bench(args: argparse.Namespace) -> dict[str, Any]:
    images, labels, source = load_images(args)
    names = args.settings
    step = make_step(images, labels, args)
    augs = {name: make_augment(images, SETTINGS[name], args) for name in names}
    loops = {"plain": make_loop_epoch(images, labels, None, False, args)}
    for name in names:
        loops[f"{name}/sync"] = make_loop_epoch(images, labels, SETTINGS[name], False, args)
        loops[f"{name}/ahead"] = make_loop_epoch(images, labels, SETTINGS[name], True, args)
    samples: dict[str, list[float]] = {key: [] for key in ["step", *names, *loops]}
    step()  # warm-up: buffers, BLAS threads
    for key, run in loops.items():
        run()  # warm-up epoch of each loop (its workspaces, the thread)
    for r in range(args.repeats):
        samples["step"].append(step())
        for name in names:
            samples[name].append(augs[name]())
        for key, run in loops.items():
            samples[key].append(run())
        if not args.quiet:
            print(f"repeat {r + 1}/{args.repeats}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in samples.items()),
                  file=sys.stderr, flush=True)
    med = {key: statistics.median(values) for key, values in samples.items()}
    step_s, plain_s = med["step"], med["plain"]
    rows = [{"setting": name, "config": describe(SETTINGS[name]), "augment_s": med[name],
             "step_s": step_s, "augment_over_step": med[name] / step_s, "samples": samples[name],
             "plain_epoch_s": plain_s, "sync_epoch_s": med[f"{name}/sync"], "ahead_epoch_s": med[f"{name}/ahead"],
             "sync_added": med[f"{name}/sync"] / plain_s - 1, "ahead_added": med[f"{name}/ahead"] / plain_s - 1}
            for name in names]
    bs = min(args.batch_size, images.shape[0])
    return {"command": "python benchmarks/bench_augment.py " + " ".join(args.argv),
            "settings": {"data": source, "train_size": int(images.shape[0]), "batch_size": bs,
                         "iterations_per_epoch": max(images.shape[0] // bs, 1), "hidden": args.hidden,
                         "repeats": args.repeats},
            "step_samples": samples["step"], "plain_samples": samples["plain"], "rows": rows}


def render(result: dict[str, Any]) -> str:
    s = result["settings"]
    lines = [f"Command: `{result['command']}`", "",
             f"Data: {s['data']}; batch {s['batch_size']}, {s['iterations_per_epoch']} iterations per epoch, "
             f"H={s['hidden']}, medians of {s['repeats']} interleaved runs.", "",
             "| setting | augment s/epoch | training step s/epoch | augment / step |", "|---|---:|---:|---:|"]
    for r in result["rows"]:
        shown = {k: v for k, v in r["config"].items() if v and (k != "elastic_sigma" or r["config"]["elastic_alpha"])}
        lines.append(f"| {r['setting']} ({', '.join(f'{k} {v:g}' for k, v in shown.items())}) | "
                     f"{r['augment_s']:.3f} | {r['step_s']:.3f} | {100 * r['augment_over_step']:.0f} % |")
    lines += ["", "One epoch of the training loop (TrainingLoop, SGD), without and with each setting:", "",
              "| setting | plain s/epoch | synchronous s/epoch | added | prepared ahead s/epoch | added |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['setting']} | {r['plain_epoch_s']:.3f} | {r['sync_epoch_s']:.3f} | "
                     f"{100 * r['sync_added']:.0f} % | {r['ahead_epoch_s']:.3f} | {100 * r['ahead_added']:.0f} % |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--hidden", type=int, default=800, help="hidden units of the training step (default 800)")
    p.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
                   help="augmentation settings to time")
    p.add_argument("--repeats", type=int, default=3, help="interleaved timed epochs per contender; medians")
    p.add_argument("--train-size", type=int, default=55000, help="training images (default 55,000)")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate of the timed step")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--data", default=None, help="a prepared split folder (e.g. data/prepared) instead of synthetic")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    for name in ("hidden", "repeats", "train_size", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    result = bench(args)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
