"""The page template of `dvc plots show` and `dvc plots diff`, with vega, vega-lite and vega-embed inlined
(the bundle the pinned vl-convert-python wheel ships), so the HTML they write renders with no network.

    python -m pipeline.tools.plots_template     # write .dvc/plots_template.html (`make install` runs it)

.dvc/config's `plots.html_template` points at the file (DVC resolves it relative to .dvc/); it is
generated, not versioned. DVC fills `{plot_divs}` (and `{refresh_tag}`) and, as the template has no
`{scripts}`, adds none of its CDN script tags.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.common.closure import ROOT
from pipeline.nn.npz import atomic_write

TEMPLATE = ROOT / ".dvc" / "plots_template.html"

_HEAD = """<!DOCTYPE html>
<html>
<head>
    {refresh_tag}
    <title>DVC Plot</title>
    <meta charset="utf-8">
    <script type="text/javascript">
"""
_TAIL = """
    </script>
    <style>
        table {
            border-spacing: 15px;
        }
    </style>
</head>
<body>
    {plot_divs}
</body>
</html>
"""


def render() -> str:
    """The template: DVC's default page with the libraries inline instead of loaded from a CDN."""
    import vl_convert

    bundle = vl_convert.javascript_bundle()  # sets window.vegaEmbed, window.vega, window.vegaLite
    # Text DVC would substitute, or that would end the script element early, must not occur in it.
    for marker in ("{plot_divs}", "{refresh_tag}", "{scripts}", "</script"):
        if marker in bundle:
            raise RuntimeError(f"the vl-convert JavaScript bundle contains {marker!r}; it cannot be inlined as is")
    return _HEAD + bundle + _TAIL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.plots_template",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(TEMPLATE), help="where to write the template")
    args = parser.parse_args(argv)
    with atomic_write(Path(args.out), "w") as f:
        f.write(render())
    print(f"plots_template: wrote {args.out} (vega, vega-lite and vega-embed inline)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
