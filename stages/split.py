"""Stage split: split the raw MNIST files into train/val/test .npz files and write per-class stats."""
from __future__ import annotations

from pipeline.common.cli import run_stage, stage_parser
from pipeline.data.split import SplitParams, prepare
from pipeline.common.params import load_section


def main(args) -> None:
    params = load_section(SplitParams, "split", args.params)
    stats = prepare(args.raw, args.out, params, stats_path=args.stats)
    counts = ", ".join(f"{name} {stats[name]['total']}" for name in ("train", "val", "test"))
    print(f"split: {counts} images in {args.out}; stats in {args.stats}")


if __name__ == "__main__":
    parser = stage_parser("Split the 60,000 MNIST training images into train and a seeded validation set "
                          "(split.val_size, split.seed, split.train_size); the test set is kept as is.")
    parser.add_argument("--raw", default="data/raw", help="folder with the four IDX files")
    parser.add_argument("--out", default="data/prepared", help="folder for train/val/test.npz")
    parser.add_argument("--stats", default="metrics/split.json", help="per-class counts JSON")
    run_stage(main, parser, script=__file__)
