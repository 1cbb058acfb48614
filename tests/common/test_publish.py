"""pipeline.common.publish: a stage's outputs move into place as a unit; leftovers are finished or removed."""
from __future__ import annotations

import pytest

from pipeline.errors import WriteError
from pipeline.common.fileio import write_text
from pipeline.common.publish import JOURNAL, TMP_DIR, publish, recover
from support import ROOT


class Boom(RuntimeError):
    pass


def outputs(tmp_path):
    return [tmp_path / "a" / "x.txt", tmp_path / "b" / "y.txt", tmp_path / "z.json"]


def write_all(tmp_path, text):
    with publish(outputs(tmp_path), "t", root=tmp_path) as out:
        for path in outputs(tmp_path):
            write_text(out[path], text)


def contents(tmp_path):
    return {p.read_text() if p.exists() else None for p in outputs(tmp_path)}


def test_outputs_appear_together_and_temporaries_live_outside_them(tmp_path):
    seen_inside = []
    with publish(outputs(tmp_path), "t", root=tmp_path) as out:
        for path in outputs(tmp_path):
            write_text(out[path], "new")
            assert TMP_DIR in str(out[path])
            seen_inside.append(path.exists())
    assert seen_inside == [False, False, False]  # nothing visible before the block ended
    assert contents(tmp_path) == {"new"}
    assert [p for p in (tmp_path / TMP_DIR).rglob("*")] == []


def test_exception_in_the_block_keeps_the_old_outputs(tmp_path):
    write_all(tmp_path, "old")
    with pytest.raises(Boom, match="^stop mid-write$"):
        with publish(outputs(tmp_path), "t", root=tmp_path) as out:
            write_text(out[outputs(tmp_path)[0]], "new")
            raise Boom("stop mid-write")
    assert contents(tmp_path) == {"old"}
    assert [p for p in (tmp_path / TMP_DIR).rglob("*")] == []


def test_write_error_names_the_output_not_the_temporary(tmp_path, monkeypatch):
    write_all(tmp_path, "old")
    target = outputs(tmp_path)[1]
    with pytest.raises(WriteError, match=r"cannot write \(No space left on device\)") as info:
        with publish(outputs(tmp_path), "t", root=tmp_path) as out:
            write_text(out[outputs(tmp_path)[0]], "new")
            raise WriteError(out[target], "No space left on device")
    assert str(info.value).startswith(f"{target}: cannot write (No space left on device)")
    assert contents(tmp_path) == {"old"}


def test_an_output_left_unwritten_is_a_bug(tmp_path):
    with pytest.raises(RuntimeError, match="not written"):
        with publish(outputs(tmp_path), "t", root=tmp_path) as out:
            write_text(out[outputs(tmp_path)[0]], "new")
    assert contents(tmp_path) == {None}


def test_unknown_output_and_duplicates_are_refused(tmp_path):
    with pytest.raises(ValueError, match="twice"):
        with publish([tmp_path / "a", tmp_path / "a"], "t", root=tmp_path):
            pass
    with pytest.raises(KeyError, match="not one of the outputs"):
        with publish([tmp_path / "a"], "t", root=tmp_path) as out:
            out[tmp_path / "b"]


def test_folder_writers_get_one_temporary_folder_per_output_folder(tmp_path):
    figures = [tmp_path / "fig" / "one.png", tmp_path / "fig" / "two.png"]
    with publish(figures, "plot", root=tmp_path) as out:
        folder = out.folder(tmp_path / "fig")
        for name in ("one.png", "two.png"):
            (folder / name).write_text(name)
    assert [p.read_text() for p in figures] == ["one.png", "two.png"]


def test_a_folder_in_the_way_is_refused_before_anything_moves(tmp_path):
    write_all(tmp_path, "old")
    blocked = outputs(tmp_path)[2]
    blocked.unlink()
    blocked.mkdir()
    with pytest.raises(WriteError, match="a folder is in the way"):
        write_all(tmp_path, "new")
    assert {p.read_text() for p in outputs(tmp_path)[:2]} == {"old"}


def _killed_mid_move(tmp_path, moved: int):
    """Publish "new" over "old" in a child process that dies after `moved` renames."""
    import signal
    import subprocess
    import sys

    script = f"""
import os, signal
from pipeline.common.fileio import write_text
from pipeline.common.publish import publish
real, count = os.replace, [0]
def replace(src, dst):
    if {TMP_DIR!r} not in str(dst):
        if count[0] == {moved}:
            os.kill(os.getpid(), signal.SIGKILL)
        count[0] += 1
    return real(src, dst)
os.replace = replace
outs = {[str(p) for p in outputs(tmp_path)]!r}
with publish(outs, "t", root={str(tmp_path)!r}) as out:
    for p in outs:
        write_text(out[p], "new")
"""
    # cwd: `python -c` puts the working directory first on the path, so the child imports this tree.
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("moved", [0, 1, 2])
def test_recover_puts_back_what_a_killed_publication_moved(tmp_path, moved):
    write_all(tmp_path, "old")
    _killed_mid_move(tmp_path, moved)
    assert len(list((tmp_path / TMP_DIR).rglob(JOURNAL))) == 1
    done = recover(tmp_path / TMP_DIR)
    assert len(done) == 1 and done[0].startswith("put back the outputs")
    assert contents(tmp_path) == {"old"} and list((tmp_path / TMP_DIR).iterdir()) == []


def test_recover_removes_outputs_that_did_not_exist_before(tmp_path):
    _killed_mid_move(tmp_path, 2)
    recover(tmp_path / TMP_DIR)
    assert contents(tmp_path) == {None}


def test_recover_drops_a_publication_whose_outputs_were_replaced_since(tmp_path):
    # Killed mid-move, then a rerun or `dvc checkout` replaced the outputs: putting the old files
    # back would mix them into newer ones, so the transaction is dropped untouched.
    write_all(tmp_path, "old")
    _killed_mid_move(tmp_path, 1)
    for path in outputs(tmp_path):  # as `dvc checkout` would
        path.unlink()
        path.write_text("restored")
    done = recover(tmp_path / TMP_DIR)
    assert len(done) == 1 and "replaced since" in done[0]
    assert contents(tmp_path) == {"restored"} and list((tmp_path / TMP_DIR).iterdir()) == []


def test_abandoned_transaction_is_removed(tmp_path):
    tmp = tmp_path / TMP_DIR
    (tmp / "t-2-bb" / "0").mkdir(parents=True)
    (tmp / "t-2-bb.lock").write_bytes(b"")
    (tmp / "t-2-bb" / "0" / "half").write_text("half-written")
    assert recover(tmp) == ["removed unfinished t-2-bb"]
    assert list(tmp.iterdir()) == []


def test_recover_leaves_a_running_transaction_alone(tmp_path):
    with publish([tmp_path / "x"], "t", root=tmp_path) as out:
        write_text(out[tmp_path / "x"], "new")
        assert recover(tmp_path / TMP_DIR) == []  # our own lock is held
        assert out[tmp_path / "x"].exists()
    assert (tmp_path / "x").read_text() == "new"


def test_stale_atomic_write_temporaries_are_cleaned_at_start(tmp_path):
    (tmp_path / "a").mkdir()
    stale = tmp_path / "a" / ".x.txt.abc123.tmp"
    stale.write_text("killed mid-write")
    write_all(tmp_path, "new")
    assert not stale.exists()

