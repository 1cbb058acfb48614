"""The README's shell commands run as written on a fresh clone: every `dvc` subcommand and flag, `make` target,
`python` module or script and its flags, repository file and params.yaml key they name exists; its links
point at files that exist and its layout names every folder of the repository."""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
ENV = dict(os.environ, DVC_NO_ANALYTICS="1", PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
SEPARATORS = {"&&", "||", ";", "|"}
CHECKED = ("dvc", "make", "python")


def shell_blocks(markdown: str) -> list[str]:
    """The bodies of the ```sh / ```bash blocks."""
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", markdown, re.M | re.S)


def commands(block: str) -> list[list[str]]:
    """Each command of a block as words: continuations joined, comments dropped, split at && || ; |."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for word in words + [";"]:
            if word in SEPARATORS:
                while current and re.match(r"^[A-Z_][A-Z0-9_]*=", current[0]):  # VAR=value prefixes
                    current.pop(0)
                if current:
                    out.append(current)
                current = []
            else:
                current.append(word)
    return out


def program(words: list[str]) -> str:
    """`dvc`, `make`, `python`, or another program's name (a .venv/bin/ prefix left out)."""
    name = Path(words[0]).name
    return "python" if re.fullmatch(r"python(3(\.\d+)?)?", name) else name


@functools.cache
def run_help(argv: tuple[str, ...]) -> tuple[int, str]:
    proc = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def dvc_help(path: tuple[str, ...]) -> tuple[int, str]:
    return run_help((str(BIN / "dvc"), *path, "--help"))


def subcommands(help_text: str) -> set[str]:
    """The subcommands a DVC help page lists (none for a leaf command)."""
    if "Available Commands:" in help_text:
        listed = re.findall(r"^    ([a-z][\w-]*)(?: \(([\w-]+)\))?", help_text.split("Available Commands:")[1], re.M)
        return {name for pair in listed for name in pair if name}  # "experiments (exp)": both names
    m = re.search(r"positional arguments:\n\s+\{([\w,-]+)\}", help_text)
    return set(m.group(1).split(",")) if m else set()


def flags_of(help_text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", help_text))


@functools.cache
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@functools.cache
def dvc_yaml() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())


def dvc_outputs() -> set[str]:
    """Every path a stage writes (outs, metrics, plots)."""
    paths = set()
    for stage in dvc_yaml()["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            for entry in stage.get(kind) or ():
                paths.add(next(iter(entry)) if isinstance(entry, dict) else entry)
    return paths


def has_key(tree: object, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return False
        tree = tree[part]
    return True


def path_problems(words: list[str]) -> list[str]:
    """Repository-relative paths (with a slash, no scheme) that neither exist nor are a stage's output."""
    problems = []
    outputs = dvc_outputs()
    for word in words:
        path = word.split(":")[0] if re.match(r"^[\w.-]+/[\w./-]*:[\w.]+$", word) else word
        if not re.fullmatch(r"[\w.-]+/[\w./-]*", path) or path.startswith(("/", "../")):
            continue
        produced = any(path == o or path.startswith(o.rstrip("/") + "/") or o.startswith(path.rstrip("/") + "/")
                       for o in outputs)
        if not (ROOT / path).exists() and not produced:
            problems.append(f"{path}: no such file in the repository, and no stage writes it")
        if ":" in word and path.endswith(".json") and (ROOT / path).is_file():
            key = word.split(":", 1)[1]
            if not has_key(json.loads((ROOT / path).read_text()), key):
                problems.append(f"{word}: {path} has no key {key}")
    return problems


def unknown_flags(words: list[str], help_text: str, what: str) -> list[str]:
    known = flags_of(help_text)
    return [f"{what}: no option {w.split('=')[0]}" for w in words
            if re.match(r"^--?[A-Za-z]", w) and w.split("=")[0] not in known]


def check_dvc(words: list[str]) -> list[str]:
    path: list[str] = []
    rest = words[1:]
    while rest and not rest[0].startswith("-"):
        rc, text = dvc_help(tuple(path))
        subs = subcommands(text)
        if rc != 0 or not subs:
            break
        if rest[0] not in subs:
            return [f"dvc {' '.join(path + [rest[0]])}: no such command (dvc {' '.join(path)} has {', '.join(sorted(subs))})"]
        path.append(rest.pop(0))
    rc, text = dvc_help(tuple(path))
    if rc != 0:
        return [f"dvc {' '.join(path)} --help failed: {text.strip()[-200:]}"]
    problems = unknown_flags(rest, text, f"dvc {' '.join(path)}")
    for flag, value in zip(rest, rest[1:]):
        if flag in ("-S", "--set-param"):
            key = value.split("=", 1)[0].split(":")[-1]
            if not has_key(params(), key):
                problems.append(f"dvc {' '.join(path)} -S {value}: params.yaml has no key {key}")
    if path == ["artifacts", "get"]:
        names = [w for w in rest if not w.startswith("-")]
        if len(names) >= 2 and names[1] not in (dvc_yaml().get("artifacts") or {}):
            problems.append(f"dvc artifacts get: dvc.yaml declares no artifact {names[1]}")
    return problems + path_problems(rest)


def check_make(words: list[str]) -> list[str]:
    targets = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    problems = []
    for target in targets:
        rc, text = run_help(("make", "-n", target))
        if rc != 0:
            problems.append(f"make {target}: {text.strip().splitlines()[-1] if text.strip() else 'failed'}")
    return problems


def check_python(words: list[str]) -> list[str]:
    rest = words[1:]
    if rest[:1] == ["-c"]:
        rc, text = run_help((sys.executable, *rest))
        return [] if rc == 0 else [f"python -c ...: exit {rc}: {text.strip()[-200:]}"]
    if rest[:1] == ["-m"]:
        module, args = rest[1], rest[2:]
        if importlib.util.find_spec(module) is None:
            return [f"python -m {module}: no such module"]
        argv: tuple[str, ...] = (sys.executable, "-m", module, "--help")
        what = f"python -m {module}"
    else:
        script, args = rest[0], rest[1:]
        if not (ROOT / script).is_file():
            return [f"python {script}: no such script"]
        argv, what = (sys.executable, script, "--help"), f"python {script}"
    rc, text = run_help(argv)
    if rc != 0:
        return [f"{what} --help: exit {rc}: {text.strip()[-200:]}"]
    return unknown_flags(args, text, what) + path_problems(args)


def problems_of(words: list[str]) -> list[str]:
    """What is wrong with one command (empty: it names only things that exist)."""
    return {"dvc": check_dvc, "make": check_make, "python": check_python}[program(words)](words)


def readme_commands() -> list[list[str]]:
    return [words for block in shell_blocks(README.read_text()) for words in commands(block)
            if program(words) in CHECKED]


def test_readme_commands_name_only_what_exists():
    checked = readme_commands()
    assert {program(w) for w in checked} == set(CHECKED)
    report = {" ".join(words): problems_of(words) for words in checked}
    for command, problems in report.items():
        print(f"{'ok  ' if not problems else 'FAIL'} {command}" + "".join(f"\n     {p}" for p in problems))
    assert [p for problems in report.values() for p in problems] == []


@pytest.mark.parametrize("command, problem", [
    ("dvc artifacts list", r"dvc artifacts list: no such command \(dvc artifacts has get\)"),
    ("dvc exp show --only-changes", r"dvc exp show: no option --only-changes"),
    ("dvc exp run -S train.learning_rate=0.1", r"params.yaml has no key train.learning_rate"),
    ("dvc exp show --sort-by metrics/evaluate.json:model.test_accuracy", r"has no key model.test_accuracy"),
    ("make reproduce", r"make reproduce: .*No rule to make target"),
    ("python -m pipeline.tools.nothing --help", r"python -m pipeline.tools.nothing: no such module"),
    (".venv/bin/python benchmarks/run_recipe.py --recipe plain --seed 0", r"run_recipe.py: no option --seed"),
    ("python benchmarks/missing.py", r"python benchmarks/missing.py: no such script"),
    ("dvc plots show plots/nothing.csv", r"plots/nothing.csv: no such file in the repository"),
])
def test_checker_reports_what_does_not_exist(command, problem):
    problems = problems_of(commands(command)[0])
    assert any(re.search(problem, p) for p in problems), problems


def test_commands_are_split_at_separators_and_comments_dropped():
    block = "make repro && source .venv/bin/activate   # set up\nOPENBLAS_CORETYPE=Haswell dvc repro \\\n  --pull\n"
    assert commands(block) == [["make", "repro"], ["source", ".venv/bin/activate"], ["dvc", "repro", "--pull"]]


def test_links_point_at_files_that_exist():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[\w-]+)?\)", README.read_text())
    local = [link for link in links if "://" not in link]
    assert "docs/params.md" in local and "benchmarks/README.md" in local
    assert [link for link in local if not (ROOT / link).exists()] == []


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", ["README.md", "benchmarks/README.md", *sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))])
def test_links_between_pages_and_their_anchors_exist(page):
    text = (ROOT / page).read_text()
    broken = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([\w-]+))?\)", text):
        if "://" in target:
            continue
        path = ((ROOT / page).parent / target).resolve() if target else ROOT / page
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.*)$", path.read_text(), re.M)
            if anchor not in {slug(h) for h in headings}:
                broken.append(f"{target}#{anchor}")
    assert broken == []


def test_every_docs_page_is_linked_from_the_readme():
    text = README.read_text()
    pages = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    assert [page for page in pages if f"]({page}" not in text] == []


def test_layout_names_every_folder_of_the_repository():
    layout = re.search(r"^## Layout\n.*?^```\n(.*?)^```", README.read_text(), re.M | re.S).group(1)
    first_columns = [m.group(1) for line in layout.splitlines() if (m := re.match(r"^((?:[\w.-]+/ )*[\w.-]+/)\s", line))]
    named = {name for column in first_columns for name in re.findall(r"([\w.-]+)/", column)}
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    folders = {f.split("/")[0] for f in files if "/" in f}
    assert folders - named == set(), "folders the layout does not name"
    assert [name for name in named if not (ROOT / name).is_dir() and name not in {"data", "models", "logs"}] == []


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= 200
