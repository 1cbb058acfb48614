"""pipeline.search.store: keys cover config, data and code; damaged or foreign entries are never used."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.common.closure import ImportClosureError, import_closure
from pipeline.search.store import TRIAL_CODE, TrialStore, code_fingerprint, data_digest, trial_key
from pipeline.training import TrainParams
from support import small_data


def test_key_changes_with_config_data_and_code():
    c = TrainParams()
    d = data_digest(small_data())
    code = code_fingerprint()
    key = trial_key(c, d, code)
    assert key == trial_key(TrainParams(), d, code)
    assert key != trial_key(c.with_overrides({"lr": 0.002}, "x"), d, code)
    assert key != trial_key(c, data_digest(small_data(seed=1)), code)
    assert key != trial_key(c, d, "0" * 64)
    assert len(code) == 64 and code == code_fingerprint()


def test_data_digest_covers_validation_data():
    a, b = small_data(), small_data()
    b["y_val"] = b["y_val"].copy()
    b["y_val"][0] = (b["y_val"][0] + 1) % 4
    assert data_digest(a) != data_digest(b)


def test_roundtrip_and_checkpoint_removed_on_save(tmp_path):
    store = TrialStore(tmp_path)
    key = "a" * 64
    assert store.load(key) is None
    ckpt = tmp_path / f"{key}.ckpt.npz"
    ckpt.write_bytes(b"in flight")
    assert store.checkpoint_path(key) == str(ckpt)
    params = {"W1": np.arange(6, dtype=np.float32).reshape(2, 3)}
    store.save(key, {"status": "ok", "best_val_acc": 0.5, "val_acc": [0.1, 0.5]}, params)
    loaded = store.load(key)
    assert loaded["best_val_acc"] == 0.5 and loaded["val_acc"] == [0.1, 0.5]
    assert np.array_equal(loaded["params"]["W1"], params["W1"]) and loaded["params"]["W1"].dtype == np.float32
    assert not ckpt.exists()


def test_damaged_or_misfiled_entries_are_ignored(tmp_path):
    store = TrialStore(tmp_path)
    (tmp_path / f"{'b' * 64}.npz").write_bytes(b"not a zip")
    assert store.load("b" * 64) is None
    store.save("c" * 64, {"status": "diverged"}, None)
    (tmp_path / f"{'c' * 64}.npz").rename(tmp_path / f"{'d' * 64}.npz")  # a file under another trial's name
    assert store.load("d" * 64) is None


def _copy_tree(tmp_path: Path) -> Path:
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "pipeline", tmp_path / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_code_key_covers_every_module_of_the_trial_codes_import_closure(tmp_path):
    """Editing any file a trial runs, in a copy of the package, changes the key; augment.py among them."""
    root = _copy_tree(tmp_path)
    closure = [p.relative_to(root).as_posix() for p in import_closure([root / TRIAL_CODE], root)]
    assert {"pipeline/nn/augment.py", "pipeline/nn/loop.py", "pipeline/training.py", TRIAL_CODE} <= set(closure)
    base = code_fingerprint(root)
    assert base == code_fingerprint()  # the copy has the same code as the package
    for rel in closure:
        path = root / rel
        original = path.read_bytes()
        path.write_bytes(original + b"\n# edited\n")
        assert code_fingerprint(root) != base, rel
        path.write_bytes(original)
    assert code_fingerprint(root) == base


def test_code_key_refuses_a_missing_module(tmp_path):
    root = _copy_tree(tmp_path)
    (root / "pipeline/nn/augment.py").unlink()
    with pytest.raises(ImportClosureError, match=r"pipeline\.nn\.augment.*no module"):
        code_fingerprint(root)
