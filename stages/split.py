"""Stage: split the raw MNIST files into train/val/test .npz files and write per-class stats.

Usage: python stages/split.py [--params params.yaml] [--raw data/raw] [--out data/prepared] [--stats metrics/split.json]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402

from pipeline.data.errors import DataError  # noqa: E402
from pipeline.data.split import SplitParams, prepare  # noqa: E402
from pipeline.params import ParamsError, load_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Split the 60,000 MNIST training images into train and a seeded validation set "
        "(split.val_size, split.seed, split.train_size in params.yaml); the test set is kept as is."
    )
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--raw", default="data/raw", help="folder with the four IDX files (default: %(default)s)")
    parser.add_argument("--out", default="data/prepared", help="folder for train/val/test.npz (default: %(default)s)")
    parser.add_argument("--stats", default="metrics/split.json", help="per-class counts JSON (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        params = load_section(SplitParams, "split", args.params)
        stats = prepare(args.raw, args.out, params, stats_path=args.stats)
    except (ParamsError, DataError, OSError) as exc:
        print(f"split: error: {exc}", file=sys.stderr)
        return 1
    counts = ", ".join(f"{name} {stats[name]['total']}" for name in ("train", "val", "test"))
    print(f"split: {counts} images in {args.out}; stats in {args.stats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
