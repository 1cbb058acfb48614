"""pipeline.use.onnx_export and the export stage: raw uint8 pixels in, the numpy model's probabilities out,
the same bytes every time, and nothing published when onnxruntime disagrees."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from pipeline.nn.model import TwoLayerNet
from pipeline.nn.npz import save_npz
from pipeline.nn.preprocess import Preprocessor
from pipeline.persistence import load_model, save_model
from pipeline.use.onnx_export import (IR_VERSION, ParityError, build_graph, check_parity, graph_bytes,
                                      onnx_probabilities)
from pipeline.use.predictor import probabilities

ROOT = Path(__file__).resolve().parents[2]


def test_the_graph_takes_raw_pixels_and_gives_the_models_probabilities(digit_model, mnist_test):
    model, meta = load_model(digit_model)
    assert meta["preprocessing"]["mode"] == "unit_centered"
    data = graph_bytes(build_graph(model))
    proto = onnx.load_from_string(data)
    assert proto.ir_version == IR_VERSION
    assert [(i.name, i.type.tensor_type.elem_type) for i in proto.graph.input] == [("pixels", onnx.TensorProto.UINT8)]
    assert [n.op_type for n in proto.graph.node] == ["Reshape", "Cast", "Mul", "Sub", "MatMul", "Add", "Relu",
                                                     "MatMul", "Add", "Softmax"]
    images = mnist_test[0][:2000]
    theirs, ours = onnx_probabilities(data, images), probabilities(model, images)
    assert theirs.shape == (2000, 10) and np.allclose(theirs.sum(1), 1, atol=1e-5)
    assert np.abs(theirs - ours).max() < 1e-5 and (theirs.argmax(1) == ours.argmax(1)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_raw_and_unit_models_of_either_dtype(dtype, mnist_test):
    images = mnist_test[0][:500]
    for mode, scale in (("raw", 1e-3), ("unit", 0.3)):
        model = TwoLayerNet(784, 20, 10, dtype=dtype, weight_scale=scale, seed=3, preprocessor=Preprocessor(mode))
        parity = check_parity(model, graph_bytes(build_graph(model)), images, 1e-5)
        assert parity.same_class == 500 and parity.max_abs_diff < 1e-5


def test_the_same_model_gives_the_same_bytes(digit_model):
    model, _ = load_model(digit_model)
    assert graph_bytes(build_graph(model, doc="d")) == graph_bytes(build_graph(load_model(digit_model)[0], doc="d"))


def test_a_graph_that_disagrees_is_refused(digit_model, mnist_test):
    model, _ = load_model(digit_model)
    data = graph_bytes(build_graph(model))
    model.params["b2"][3] += 5.0  # the numpy model moves; the graph does not
    with pytest.raises(ParityError, match=r"the ONNX graph disagrees with the numpy model on \d+ of 1000 test "
                                          r"images, largest probability difference .* \(at most 1e-05 allowed\); "
                                          r"not published"):
        check_parity(model, data, mnist_test[0][:1000], 1e-5)


def _workspace(tmp_path: Path, model_path: Path, mnist_test, export_params: str) -> Path:
    images, labels = mnist_test
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "best.npz").write_bytes(model_path.read_bytes())
    save_npz(tmp_path / "data" / "prepared" / "test.npz",
             {"images": images[:1000].reshape(1000, 784), "labels": labels[:1000]})
    (tmp_path / "params.yaml").write_text(export_params)
    return tmp_path


def run_stage(ws: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_TRACEBACK"}
    return subprocess.run([sys.executable, str(ROOT / "stages" / "export.py")], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_stage_writes_the_graph_byte_identically(tmp_path, digit_model, mnist_test):
    ws = _workspace(tmp_path, digit_model, mnist_test, "export:\n  tolerance: 1.0e-05\n  opset: 17\n")
    first = run_stage(ws)
    assert first.returncode == 0, first.stderr
    assert "export: models/best.onnx: same class on 1000 of 1000 test images" in first.stdout
    data = (ws / "models" / "best.onnx").read_bytes()
    assert run_stage(ws).returncode == 0 and (ws / "models" / "best.onnx").read_bytes() == data
    assert onnx.load_from_string(data).opset_import[0].version == 17


def test_the_stage_publishes_nothing_when_parity_fails(tmp_path, digit_model, mnist_test):
    ws = _workspace(tmp_path, digit_model, mnist_test, "export:\n  tolerance: 1.0e-15\n  opset: 17\n")
    proc = run_stage(ws)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("export: error: the ONNX graph disagrees with the numpy model on 0 of 1000 test "
                                  "images, largest probability difference")
    assert not (ws / "models" / "best.onnx").exists()


def test_the_stage_names_a_bad_param(tmp_path, digit_model, mnist_test):
    ws = _workspace(tmp_path, digit_model, mnist_test, "export:\n  tolerance: 0.5\n  opset: 17\n")
    proc = run_stage(ws)
    assert proc.returncode == 1
    assert "params.yaml:export.tolerance = 0.5 is not allowed" in proc.stderr


def test_classes_tied_within_the_tolerance_are_not_a_disagreement(mnist_test):
    """An untrained model's probabilities are equal to ~1e-8; which class wins is then rounding."""
    images = mnist_test[0][:300]
    model = TwoLayerNet(784, 10, 10, weight_scale=1e-9, seed=0)
    parity = check_parity(model, graph_bytes(build_graph(model)), images, 1e-5)
    assert parity.ties > 0 and parity.same_class + parity.ties == 300 and parity.max_abs_diff < 1e-5
    with pytest.raises(ParityError, match=r"disagrees with the numpy model on [1-9]\d* of 300 test images"):
        check_parity(model, graph_bytes(build_graph(model)), images, 1e-30)
