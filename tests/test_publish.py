"""pipeline.publish: a stage's outputs move into place as a unit; leftovers are finished or removed."""
from __future__ import annotations

import json
import os

import pytest

from pipeline.errors import WriteError
from pipeline.fileio import write_text
from pipeline.publish import JOURNAL, TMP_DIR, _identity, publish, recover


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
    with pytest.raises(Boom):
        with publish(outputs(tmp_path), "t", root=tmp_path) as out:
            write_text(out[outputs(tmp_path)[0]], "new")
            raise Boom()
    assert contents(tmp_path) == {"old"}
    assert [p for p in (tmp_path / TMP_DIR).rglob("*")] == []


def test_write_error_names_the_output_not_the_temporary(tmp_path, monkeypatch):
    write_all(tmp_path, "old")
    target = outputs(tmp_path)[1]
    with pytest.raises(WriteError) as info:
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


def test_recover_rolls_a_committed_journal_forward_and_removes_the_rest(tmp_path):
    write_all(tmp_path, "old")
    tmp = tmp_path / TMP_DIR
    committed, abandoned = tmp / "t-1-aa", tmp / "t-2-bb"
    for tx in (committed, abandoned):
        (tx / "0").mkdir(parents=True)
        (tx.parent / f"{tx.name}.lock").write_bytes(b"")
    moves = []
    for i, path in enumerate(outputs(tmp_path)):
        (committed / "0" / f"{i}").write_text("new")
        moves.append([f"0/{i}", str(path)])
    before = {str(p): _identity(p) for p in outputs(tmp_path)}
    os.replace(committed / "0" / "0", outputs(tmp_path)[0])  # the kill came after the first rename
    moves[0][0] = "0/gone"
    (committed / JOURNAL).write_text(json.dumps({"stage": "t", "moves": moves, "before": before}))
    (abandoned / "0" / "half").write_text("half-written")
    done = recover(tmp)
    assert len(done) == 2 and contents(tmp_path) == {"new"}
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


def test_recover_discards_a_journal_whose_outputs_were_replaced_since(tmp_path):
    # Killed mid-rename, then `dvc checkout` (or a rerun) restored the outputs: rolling the old
    # journal forward would mix its files into newer ones, so the rest of it is dropped.
    write_all(tmp_path, "old")
    tmp = tmp_path / TMP_DIR
    tx = tmp / "t-1-aa"
    (tx / "0").mkdir(parents=True)
    (tmp / "t-1-aa.lock").write_bytes(b"")
    before = {str(p): _identity(p) for p in outputs(tmp_path)}
    moves = []
    for i, path in enumerate(outputs(tmp_path)):
        (tx / "0" / f"{i}").write_text("killed run")
        moves.append([f"0/{i}", str(path)])
    (tx / JOURNAL).write_text(json.dumps({"stage": "t", "moves": moves, "before": before}))
    for path in outputs(tmp_path):  # as `dvc checkout` would
        path.unlink()
        path.write_text("restored")
    done = recover(tmp)
    assert done == ["discarded the rest of t-1-aa: its outputs were replaced since"]
    assert contents(tmp_path) == {"restored"} and list(tmp.iterdir()) == []
