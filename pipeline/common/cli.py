"""What every stage script shares: the --params option and one-line errors instead of tracebacks."""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path
from typing import Callable, NoReturn

from pipeline.errors import PipelineError, describe_os_error

# A full disk or a file-size limit: the environment's fault wherever it strikes (even in a library
# writing a file it does not name, like multiprocessing's semaphores).
_DISK_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
# The tree this `pipeline` package was imported from (the folder holding pipeline/ and stages/).
_LIBRARY_TREE = Path(__file__).resolve().parents[2]


class StageTreeError(PipelineError):
    """A stage script of one tree running with the `pipeline/` of another (its results would be misattributed)."""


def check_same_tree(script: str | os.PathLike) -> None:
    """Refuse to run the stage script `script` (its `__file__`) with another tree's `pipeline/`.

    DVC records the hashes of the files of the tree it runs a stage in; an experiment's copy (`--temp`,
    `--queue`) run as `python stages/x.py` would import the editable install's `pipeline/` instead.
    """
    tree = Path(script).resolve().parents[1]
    if tree != _LIBRARY_TREE:
        stage = Path(script).stem
        raise StageTreeError(f"{tree / 'stages' / Path(script).name} imported pipeline/ from {_LIBRARY_TREE}, "
                             f"not from its own tree {tree}: run it as `python -m stages.{stage}` from {tree}")


def stage_parser(description: str) -> argparse.ArgumentParser:
    """An argparse parser with the options every stage has; its help shows defaults."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--params", default="params.yaml", help="parameters file")
    return parser


def user_message(exc: BaseException) -> str | None:
    """The one-line message for a user-caused error, or None if `exc` is a bug (show its traceback).

    User-caused: any PipelineError, an OSError about a named file (missing, permission), a full disk.
    """
    if isinstance(exc, PipelineError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {describe_os_error(exc)}"
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return (f"cannot write a temporary file ({describe_os_error(exc)}): the disk or a file-size limit is full; "
                "nothing was published")
    return None


def run_stage(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser,
              argv: list[str] | None = None, script: str | os.PathLike | None = None) -> NoReturn:
    """Parse arguments and run `main`; a user error prints `<stage>: error: ...` and exits 1.

    `script` (a stage's `__file__`) must belong to the tree this `pipeline` package comes from (check_same_tree).

    Anything else shows its traceback. Set PIPELINE_TRACEBACK=1 to see the traceback of user errors too.
    """
    args = parser.parse_args(argv)
    try:
        if script is not None:
            check_same_tree(script)
        main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        message = user_message(exc)
        if message is None or os.environ.get("PIPELINE_TRACEBACK"):
            raise
        print(f"{Path(parser.prog).stem}: error: {message}", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
