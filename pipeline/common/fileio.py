"""Text outputs of the stages, written atomically: JSON, CSV and plain text; CSV tables read back."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import InputFileError, MissingFileError
from pipeline.nn.npz import atomic_write

MAX_CSV_BYTES = 1 << 30


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON with a trailing newline, atomically."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` atomically."""
    with atomic_write(path, "w") as f:
        f.write(text)


def write_csv(path: str | os.PathLike, header: list[str], rows: list[list[Any]]) -> None:
    """Write a CSV atomically; floats as repr (shortest exact), None as an empty cell."""

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, (float, np.floating)):
            return repr(float(v))
        return str(v)

    lines = [",".join(header)] + [",".join(cell(v) for v in row) for row in rows]
    write_text(path, "\n".join(lines) + "\n")


def read_csv_columns(path: str | os.PathLike) -> dict[str, list[str]]:
    """Read a CSV written by `write_csv` into columns of strings, keyed by header name."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise InputFileError(f"{path}: {path.stat().st_size} bytes is too large for a CSV table "
                                 f"(at most {MAX_CSV_BYTES}); re-run the stage that writes it")
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise MissingFileError(f"{path}: no such file; run the stage that writes it") from None
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: not UTF-8 text; expected a CSV table; re-run the stage that writes it") from None
    if not lines:
        raise InputFileError(f"{path}: empty CSV, expected a header line")
    header = lines[0].split(",")
    columns: dict[str, list[str]] = {h: [] for h in header}
    for n, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if len(cells) != len(header):
            raise InputFileError(f"{path}:{n}: {len(cells)} cells, expected {len(header)} ({','.join(header)})")
        for h, c in zip(header, cells):
            columns[h].append(c)
    return columns
