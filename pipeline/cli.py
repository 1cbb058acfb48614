"""What every stage script shares: the --params option and one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable, NoReturn

# Errors a user can cause (bad params, missing or corrupt files, a diverged run) and fix from the message.
USER_ERRORS = (ValueError, OSError, RuntimeError)


def stage_parser(description: str) -> argparse.ArgumentParser:
    """An argparse parser with the options every stage has; its help shows defaults."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="parameters file")
    return parser


def run_stage(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser,
              argv: list[str] | None = None) -> NoReturn:
    """Parse arguments and run `main`; a user error prints `<stage>: error: ...` and exits 1.

    Set PIPELINE_TRACEBACK=1 to see the full traceback instead.
    """
    args = parser.parse_args(argv)
    try:
        main(args)
    except USER_ERRORS as exc:
        if os.environ.get("PIPELINE_TRACEBACK"):
            raise
        print(f"{Path(parser.prog).stem}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(0)
