"""Share DVC's run-cache with a team: push the run-cache entries AND the files they name.

    python -m pipeline.tools.runcache push [-r REMOTE] [-j JOBS]

`dvc push --run-cache` (DVC 3.67) uploads the run-cache entries (`.dvc/cache/runs`) and the outputs
of the workspace only: not the outputs of the other entries (a maintainer, treeverse/dvc#10472: it
does not "push/pull anything except the runs files"), and never an output declared `cache: false`
(our metrics, plot CSVs and figures, which live in git). A teammate's `dvc repro --pull` or
`dvc exp run --pull` then finds the entry of a run you made but not its files, and reruns the stage.
This command pushes the entries, then every file they name that your cache holds, so that the
teammate's `--pull` restores the stage instead. Pulling needs nothing more than DVC's own `--pull`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm


def run_cache_entries(repo: Any) -> list[tuple[str, str]]:
    """(key, value) of every entry in the repository's local run-cache, as DVC names them."""
    root = Path(repo.stage_cache.cache_dir)
    return sorted((p.parent.name, p.name) for p in root.glob("*/*/*") if p.is_file())


def referenced_objects(repo: Any, entries: list[tuple[str, str]]) -> tuple[set, set]:
    """The objects the entries' outputs reference, split into (in the local cache, missing from it)."""
    wanted = set()
    for objs in repo.stage_cache.get_used_objs(entries).values():
        wanted |= set(objs)
    odb = repo.cache.local
    present = {h for h in wanted if odb.exists(h.value)}
    return present, wanted - present


def push(repo: Any, remote: str | None = None, jobs: int | None = None) -> dict[str, int]:
    """Push the run-cache entries, then the objects they reference; return the counts."""
    entries = run_cache_entries(repo)
    repo.stage_cache.push(remote)
    present, missing = referenced_objects(repo, entries)
    result = repo.cloud.push(tqdm(sorted(present, key=lambda h: h.value), desc="objects", unit="obj",
                                  disable=not sys.stderr.isatty()), jobs=jobs, remote=remote)
    return {"entries": len(entries), "objects": len(present), "transferred": len(result.transferred),
            "failed": len(result.failed), "missing": len(missing)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.tools.runcache", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("push", help="push run-cache entries and every file they name to a DVC remote")
    p.add_argument("-r", "--remote", default=None, help="DVC remote name (the default remote when omitted)")
    p.add_argument("-j", "--jobs", type=int, default=None, help="parallel transfers (DVC's default when omitted)")
    p.add_argument("--repo", default=".", help="the DVC repository")
    args = parser.parse_args(argv)

    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with Repo(args.repo) as repo:
            counts = push(repo, args.remote, args.jobs)
    except DvcException as exc:
        print(f"runcache: error: {exc}", file=sys.stderr)
        return 1
    print(f"runcache: {counts['entries']} run-cache entries pushed; {counts['transferred']} of "
          f"{counts['objects']} referenced files uploaded (the rest were there already)"
          + (f"; {counts['missing']} not in the local cache (entries pulled from others)" if counts["missing"] else ""))
    if counts["failed"]:
        print(f"runcache: error: {counts['failed']} files failed to upload; run the command again", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
