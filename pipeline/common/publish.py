"""Publish a stage's outputs as a unit: after any failure they are all old or all new.

    with publish([model_path, metrics_path], stage="train") as out:
        save_npz(out[model_path], ...)      # each output is written to a temporary file
        write_json(out[metrics_path], ...)  # in .pipeline-tmp/, outside the output folders
    # here every output has been moved into place

Protocol: the outputs are written under `<root>/.pipeline-tmp/<transaction>/`; when all are
complete, a journal listing the moves is written atomically, then each old output is kept as a
hard link in the transaction and the new file renamed onto it; the journal is removed last. A
failure before the journal leaves the old outputs. A kill during the renames leaves the journal,
and the next `publish` (any stage) rolls the moved files back to the old ones: all old, which is
what dvc.lock still describes (DVC records a stage only once it has finished). If an output was
replaced since the kill (a rerun, `dvc checkout`), that transaction is dropped without touching
anything. Abandoned transactions (no journal, owner gone: a lock held only while the owner lives)
are removed at the next start too.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import IO, Iterable, Iterator

from pipeline.errors import WriteError, describe_os_error
from pipeline.nn.npz import atomic_write, temp_name

TMP_DIR = ".pipeline-tmp"
JOURNAL = "journal.json"


class Publication:
    """Where each output is written during one transaction: `out[final_path]`, or `out.folder(dir)` for
    a writer that takes a folder (each output folder has one temporary folder; file names are kept)."""

    def __init__(self, tx_dir: Path, outputs: list[Path]) -> None:
        self.tx_dir = tx_dir
        parents = list(dict.fromkeys(final.parent for final in outputs))
        self.folders = {parent: tx_dir / str(j) for j, parent in enumerate(parents)}
        self.temps = {final: self.folders[final.parent] / final.name for final in outputs}

    def __getitem__(self, final: str | os.PathLike) -> Path:
        try:
            temp = self.temps[Path(os.path.abspath(final))]
        except KeyError:
            known = sorted(map(str, self.temps))
            raise KeyError(f"{final} is not one of the outputs being published: {known}") from None
        temp.parent.mkdir(parents=True, exist_ok=True)
        return temp

    def folder(self, final_dir: str | os.PathLike) -> Path:
        """The temporary folder standing for `final_dir` (which must hold at least one output)."""
        try:
            temp = self.folders[Path(os.path.abspath(final_dir))]
        except KeyError:
            raise KeyError(f"{final_dir} holds none of the outputs being published") from None
        temp.mkdir(parents=True, exist_ok=True)
        return temp

    def final_of(self, temp: str | os.PathLike) -> Path | None:
        """The output a temporary path stands for (None if it is not one of ours)."""
        temp = Path(temp)
        return next((f for f, t in self.temps.items() if t == temp), None)


def tmp_root(outputs: list[Path], root: Path) -> Path:
    """`root`/.pipeline-tmp if the outputs are on root's file system (renames must not cross one), else
    a .pipeline-tmp in the outputs' deepest common existing folder."""
    dev = os.stat(root).st_dev
    if all(os.stat(_existing_ancestor(p)).st_dev == dev for p in outputs):
        return root / TMP_DIR
    common = _existing_ancestor(Path(os.path.commonpath([str(p) for p in outputs])) / "x")
    return common / TMP_DIR


def _existing_ancestor(path: Path) -> Path:
    for parent in path.parents:
        if parent.exists():
            return parent
    return Path("/")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _identity(path: Path) -> list[int] | None:
    """What tells a file apart from a later one put in its place (inode, mtime, size); None if absent."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_mtime_ns, st.st_size]


def _move_into_place(tx_dir: Path, moves: list[list[str]]) -> None:
    """Rename each new file onto its output, keeping the old output as a hard link in the transaction."""
    parents = set()
    for temp, final, backup in moves:
        temp, final, backup = tx_dir / temp, Path(final), tx_dir / backup
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                backup.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(final, backup)
                except OSError:  # no hard links here: move it aside (the output is absent a moment)
                    os.replace(final, backup)
            os.replace(temp, final)
        except OSError as exc:
            raise WriteError(final, f"{describe_os_error(exc)}; the outputs moved so far are put back "
                                    "when a stage next starts") from exc
        parents.add(final.parent)
    for parent in parents:
        _fsync_dir(parent)


def _roll_back(tx_dir: Path) -> bool:
    """Undo the moves a killed publication made, if its outputs are still as the kill left them.

    Returns True if it rolled back (outputs all old again), False if an output had been replaced
    since, in which case nothing is touched. Either way the transaction is removed.
    """
    journal = json.loads((tx_dir / JOURNAL).read_text(encoding="utf-8"))
    before, new = journal["before"], journal["new"]
    undo = []
    for temp, final, backup in journal["moves"]:
        temp, final, backup = tx_dir / temp, Path(final), tx_dir / backup
        now = _identity(final)
        if temp.exists() or (now == before[str(final)] and not backup.exists()):
            if now != before[str(final)]:  # not moved (or already put back), yet changed since
                shutil.rmtree(tx_dir, ignore_errors=True)
                return False
        elif now is not None and now[0] == new[str(final)]:
            undo.append((final, backup))  # our new file: put the old one back
        else:
            shutil.rmtree(tx_dir, ignore_errors=True)
            return False
    for final, backup in undo:
        if backup.exists():
            os.replace(backup, final)
        else:
            final.unlink(missing_ok=True)  # there was no old output
    for parent in {final.parent for final, _ in undo}:
        _fsync_dir(parent)
    shutil.rmtree(tx_dir, ignore_errors=True)
    return True


def _try_lock(path: Path) -> IO[bytes] | None:
    """The lock file opened and locked, or None if a live process holds it."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def recover(tmp_dir: Path) -> list[str]:
    """Finish or discard what killed stages left in `tmp_dir`; returns one line per transaction handled.

    A transaction with a journal was killed while moving its outputs: the moved ones are put back
    (unless an output was replaced since, see the module docstring). One without is discarded. Transactions whose owner is still running (holding its lock) are left alone.
    """
    done: list[str] = []
    if not tmp_dir.is_dir():
        return done
    for lock_path in sorted(tmp_dir.glob("*.lock")):
        lock = _try_lock(lock_path)
        if lock is None:
            continue
        with lock:
            tx_dir = lock_path.with_suffix("")
            if (tx_dir / JOURNAL).is_file():
                if _roll_back(tx_dir):
                    done.append(f"put back the outputs {tx_dir.name} was moving when it was stopped")
                else:
                    done.append(f"dropped {tx_dir.name}: its outputs were replaced since it was stopped")
            elif tx_dir.exists():
                shutil.rmtree(tx_dir, ignore_errors=True)
                done.append(f"removed unfinished {tx_dir.name}")
            lock_path.unlink(missing_ok=True)
    return done


def _clean_stale_temps(outputs: list[Path]) -> None:
    """Remove `atomic_write` temporaries of our outputs left in the output folders by a killed writer."""
    for final in outputs:
        if final.parent.is_dir():
            for stale in final.parent.glob(temp_name(final) + "*.tmp"):
                stale.unlink(missing_ok=True)


@contextlib.contextmanager
def publish(outputs: Iterable[str | os.PathLike], stage: str,
            root: str | os.PathLike | None = None) -> Iterator[Publication]:
    """Write every path of `outputs` through the yielded `Publication`, then move them all into place.

    `root` (default: the current folder, the project root under DVC) holds .pipeline-tmp/. Every
    output must be written in the block. Raises WriteError naming the output that could not be
    written; the outputs are then all as they were before.
    """
    finals = [Path(os.path.abspath(p)) for p in outputs]
    if len(set(finals)) != len(finals):
        raise ValueError(f"publish: an output is listed twice: {[str(p) for p in finals]}")
    tmp_dir = tmp_root(finals, Path(os.path.abspath(root or os.getcwd())))
    try:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(tmp_dir, describe_os_error(exc)) from exc
    for line in recover(tmp_dir):
        print(f"{stage}: {line}")
    _clean_stale_temps(finals)
    tx_name = f"{stage}-{os.getpid()}-{secrets.token_hex(4)}"
    lock_path = tmp_dir / f"{tx_name}.lock"
    try:
        lock = open(lock_path, "xb")
    except OSError as exc:
        raise WriteError(lock_path, describe_os_error(exc)) from exc
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tx_dir = tmp_dir / tx_name
        pub = Publication(tx_dir, finals)
        committed = False
        try:
            _own(tx_dir.mkdir, tx_dir)
            try:
                yield pub
            except WriteError as exc:
                final = pub.final_of(exc.path)
                if final is None:
                    raise
                raise WriteError(final, exc.reason) from exc
            missing = [str(f) for f, t in pub.temps.items() if not t.is_file()]
            if missing:
                raise RuntimeError(f"publish({stage}): outputs not written in the block: {missing}")
            _check_targets(finals)
            moves = [[str(t.relative_to(tx_dir)), str(fi), f"old/{i}"]
                     for i, (fi, t) in enumerate(pub.temps.items())]
            with atomic_write(tx_dir / JOURNAL, "w") as f:
                json.dump({"stage": stage, "moves": moves,
                           "before": {str(fi): _identity(fi) for fi in pub.temps},
                           "new": {str(fi): t.stat().st_ino for fi, t in pub.temps.items()}}, f)
            committed = True
            try:
                _move_into_place(tx_dir, moves)
            except WriteError:
                with contextlib.suppress(OSError):
                    _roll_back(tx_dir)  # else the next start does it
                raise
            (tx_dir / JOURNAL).unlink()
            shutil.rmtree(tx_dir, ignore_errors=True)
        finally:
            if not committed:
                shutil.rmtree(tx_dir, ignore_errors=True)
            if not (tx_dir / JOURNAL).exists():  # else the next start puts the old outputs back
                lock_path.unlink(missing_ok=True)


def _own(op, path: Path) -> None:
    """Run a file operation of the protocol itself; its OSError becomes a WriteError naming `path`."""
    try:
        op()
    except OSError as exc:
        raise WriteError(path, describe_os_error(exc)) from exc


def _check_targets(finals: list[Path]) -> None:
    """Refuse, before the commit point, outputs that could not be renamed into place."""
    for final in finals:
        if final.is_dir():
            raise WriteError(final, "a folder is in the way of this output file")
        parent = _existing_ancestor(final) if not final.parent.exists() else final.parent
        if not os.access(parent, os.W_OK | os.X_OK):
            raise WriteError(final, f"no permission to write in {parent}")
