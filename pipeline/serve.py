"""A page to draw a digit and watch the model answer: `python -m pipeline.serve [--model PATH] [--port 8000]`.

Serves on 127.0.0.1 unless --host says otherwise; the page sends the drawing as it grows and shows the ten
probabilities and the 28x28 input the model saw (prepared as `python -m pipeline.predict` prepares images).
"""
from __future__ import annotations

import argparse

from pipeline.common.cli import run_stage
from pipeline.errors import PipelineError
from pipeline.persistence import load_model
from pipeline.use.server import DrawingServer


class ServeError(PipelineError):
    """The server cannot start (address in use, not allowed)."""


def main(args: argparse.Namespace) -> None:
    model, _ = load_model(args.model)
    try:
        server = DrawingServer(model, args.host, args.port, verbose=args.verbose)
    except OSError as exc:
        raise ServeError(f"{args.host}:{args.port}: cannot listen there ({exc.strerror or exc}); "
                         "choose another --port (0 picks a free one)") from exc
    with server:
        print(f"serve: {args.model} at {server.url} (Ctrl-C stops)", flush=True)
        server.serve_forever()


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m pipeline.serve`."""
    p = argparse.ArgumentParser(prog="serve", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="models/best.npz", help="model file (.npz written by train or search)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (0: any free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


if __name__ == "__main__":
    run_stage(main, parser())
