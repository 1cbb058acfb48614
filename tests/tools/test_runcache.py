"""pipeline.tools.runcache: its command line (the push itself runs against real remotes in test_remote_e2e)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.tools.runcache import main

from support import ROOT


def test_help_names_the_command():
    out = subprocess.run([sys.executable, "-m", "pipeline.tools.runcache", "push", "--help"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--remote" in out.stdout


def test_outside_a_dvc_repository_is_a_one_line_error(tmp_path, capsys):
    assert main(["push", "--repo", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("runcache: error: ") and len(err.strip().splitlines()) == 1


def test_a_command_is_required():
    with pytest.raises(SystemExit, match="^2$"):  # argparse's usage-error exit status
        main([])
