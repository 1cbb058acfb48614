"""PipelineError: the base of every error a user causes and can fix from its message.

Bad params, missing/altered/oversized data or model files, a plan that cannot fit, a diverged run,
an output that cannot be written (disk full). `pipeline.common.cli.run_stage` prints these as one line;
any other exception is a bug and shows its traceback.
"""
from __future__ import annotations

import os
import reprlib
from typing import Any

# Longest value shown in a message; a longer one is cut with "...".
MAX_SHOWN = 60

_repr = reprlib.Repr()
_repr.maxstring = MAX_SHOWN
_repr.maxother = MAX_SHOWN
_repr.maxlong = 40
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 6
_repr.maxlevel = 3


class PipelineError(Exception):
    """A user-caused error (bad params, bad or missing files, impossible plan, divergence, full disk)."""


class WriteError(PipelineError, OSError):
    """An output file could not be written (disk full, file too large, permission); names the file.

    `path` is the file that could not be written; the outputs of the stage were left as they were.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: cannot write ({reason}); the stage's outputs were left as they were")

    def __str__(self) -> str:
        return self.args[0]


class InputFileError(PipelineError, ValueError):
    """An input file is missing, too large, or not the kind of file expected; names the file."""


def shorten(value: Any) -> str:
    """repr(value), cut to about MAX_SHOWN characters so a huge value cannot flood a message."""
    text = _repr.repr(value)
    return text if len(text) <= MAX_SHOWN + 5 else text[:MAX_SHOWN] + "..."


def describe_os_error(exc: OSError) -> str:
    """The reason part of an OSError ("No space left on device"), without the file name."""
    return exc.strerror or str(exc) or type(exc).__name__


class MissingFileError(InputFileError, FileNotFoundError):
    """An input file does not exist; the message names it and the stage that writes it."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
