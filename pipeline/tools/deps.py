"""Each stage's code deps in dvc.yaml, generated from its script's import closure.

    python -m pipeline.tools.deps            # rewrite the code deps of every stage in dvc.yaml
    python -m pipeline.tools.deps --check    # exit 1 (and say which stage) if dvc.yaml is out of date

A stage's code deps are its script and every `pipeline/` file its import closure reaches
(`pipeline.common.closure`); the trial store keys its trials with the same closure. Other deps
(data, models, tables) are kept as they are written.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.common.closure import PACKAGES, ROOT, ImportClosureError, import_closure

DVC_YAML = "dvc.yaml"


def stage_scripts(text: str) -> dict[str, str]:
    """{stage: script path} from the `cmd:` lines of dvc.yaml (`python stages/x.py` or `python -m stages.x`)."""
    scripts = {}
    stage = None
    for line in text.splitlines():
        if m := re.match(r"^  (\w+):\s*$", line):
            stage = m.group(1)
        elif stage and (m := re.match(r"^    cmd:\s*python\s+(?:-m\s+)?(\S+)", line)):
            target = m.group(1)
            scripts[stage] = target if target.endswith(".py") else target.replace(".", "/") + ".py"
    return scripts


def render(text: str, root: Path = ROOT) -> str:
    """dvc.yaml `text` with each stage's code deps (script + closure) regenerated; other deps kept in place."""
    scripts = stage_scripts(text)
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    stage = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := re.match(r"^  (\w+):\s*$", line):
            stage = m.group(1)
        out.append(line)
        i += 1
        if stage in scripts and re.match(r"^    deps:\s*$", line):
            items = []
            while i < len(lines) and re.match(r"^      - ", lines[i]):
                items.append(lines[i])
                i += 1
            script = root / scripts[stage]
            if not script.is_file():
                raise ImportClosureError(f"{DVC_YAML}: stage {stage} runs {scripts[stage]}, which does not exist")
            code = [p.relative_to(root).as_posix() for p in import_closure([script], root)]
            code.remove(scripts[stage])
            others = [x for x in items if not x.strip()[2:].startswith(tuple(f"{p}/" for p in PACKAGES))]
            out += [f"      - {scripts[stage]}\n"] + [f"      - {c}\n" for c in code] + others
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.deps", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if dvc.yaml is out of date")
    parser.add_argument("--dvc-yaml", default=str(ROOT / DVC_YAML), help="the dvc.yaml to update")
    args = parser.parse_args(argv)
    path = Path(args.dvc_yaml)
    text = path.read_text(encoding="utf-8")
    try:
        new = render(text, path.resolve().parent)
    except ImportClosureError as exc:
        print(f"deps: error: {exc}", file=sys.stderr)
        return 1
    if new == text:
        print(f"deps: {path} is up to date")
        return 0
    if args.check:
        print(f"deps: {path} lists other code deps than the stages import; run python -m pipeline.tools.deps",
              file=sys.stderr)
        return 1
    from pipeline.nn.npz import atomic_write

    with atomic_write(path, "w") as f:
        f.write(new)
    print(f"deps: rewrote the code deps in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
