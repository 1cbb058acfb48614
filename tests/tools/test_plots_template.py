"""pipeline.tools.plots_template: `dvc plots show` and `dvc plots diff` write pages that render every
declared plot with the network cut, checked in a real headless chromium."""
from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pipeline.tools.plots_template import TEMPLATE, main, render

from support import ROOT

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  # Belt and braces in case no network namespace can be made: nothing resolves, no proxy answers.
                  "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9"]
DVC = str(ROOT / ".venv/bin/dvc") if (ROOT / ".venv/bin/dvc").exists() else "dvc"
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="browser test: Debian's chromium is not installed "
                                    "(apt-get update && apt-get install -y chromium; .ci/run does it)")


def _offline(command: list[str]) -> list[str]:
    """`command` in a fresh network namespace (only a loopback that is down) when this user may make one."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n", *command]
    return command


def test_template_inlines_the_libraries_and_keeps_dvcs_placeholders():
    page = render()
    assert "{plot_divs}" in page and "{refresh_tag}" in page
    assert "{scripts}" not in page  # DVC's CDN <script src=...> tags go there
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "window.vegaEmbed=" in page and len(page) > 500_000


def test_repository_config_points_dvc_at_the_generated_template(tmp_path):
    config = configparser.ConfigParser()
    config.read(ROOT / ".dvc" / "config")
    assert (ROOT / ".dvc" / config["plots"]["html_template"]).resolve() == TEMPLATE
    ignored = subprocess.run(["git", "check-ignore", "-q", str(TEMPLATE)], cwd=ROOT)
    assert ignored.returncode == 0, f"{TEMPLATE} is generated: git must ignore it"
    assert main(["--out", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").read_text(encoding="utf-8") == render()


@needs_chromium
@pytest.mark.parametrize("command", [["show"], ["diff", "HEAD"]], ids=["show", "diff"])
def test_every_declared_plot_renders_with_no_network(tmp_path, command):
    assert TEMPLATE.is_file(), f"{TEMPLATE} is missing: make install writes it (python -m pipeline.tools.plots_template)"
    declared = json.loads(subprocess.run([DVC, "plots", *command, "--json"], cwd=ROOT, capture_output=True,
                                         text=True, check=True).stdout)["data"]
    kinds = [entry["type"] for entries in declared.values() for entry in entries]
    charts = kinds.count("vega")
    assert charts >= 9 and kinds.count("image") >= 6
    out = tmp_path / "page"
    subprocess.run([DVC, "plots", *command, "-o", str(out)], cwd=ROOT, capture_output=True, check=True)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc=", html) and "cdn.jsdelivr" not in html
    browser = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]
    dom = subprocess.run(_offline([*browser, "--dump-dom", (out / "index.html").as_uri()]), capture_output=True,
                         text=True, timeout=300)
    assert dom.returncode == 0, dom.stderr[-2000:]
    # Each chart vega-embed drew is an <svg class="marks"> (its default renderer); a failed one has none.
    assert dom.stdout.count('class="marks"') == charts
    assert len(re.findall(r'<img src="static/[^"]+\.png"', dom.stdout)) == kinds.count("image")
    shot = tmp_path / "shot.png"
    run = subprocess.run(_offline([*browser, "--window-size=1200,2400", f"--screenshot={shot}",
                                   (out / "index.html").as_uri()]), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("L"))
    assert (pixels < 200).mean() > 0.01, "the screenshot is (nearly) blank"
    assert len(np.unique(pixels)) > 50  # lines, text and images, not a flat page
