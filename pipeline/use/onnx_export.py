"""A saved model as an ONNX graph taking raw 28x28 uint8 pixels and giving ten probabilities, and the
parity check that must pass before the graph is published.

The graph holds the model's preprocessing (cast, the 1/255 scale, the training mean) so a consumer
needs nothing but the pixels. It is built from fixed names and no timestamps, so the same model
gives the same bytes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.common.params import integer, number, param
from pipeline.errors import PipelineError
from pipeline.nn.model import TwoLayerNet
from pipeline.use.predictor import probabilities

# onnxruntime 1.31 reads IR versions up to 13; onnx 1.23 writes 14 unless told otherwise.
IR_VERSION = 10
INPUT, OUTPUT = "pixels", "probabilities"
_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


@dataclass(frozen=True)
class ExportParams:
    """params.yaml:export."""

    tolerance: float = param(number(0.0, 0.01, lo_open=True), 1e-5,
                             "largest difference allowed between the graph's and the model's probabilities")
    opset: int = param(integer(13, 21), 17, "ONNX operator set the graph declares")


class ParityError(PipelineError):
    """The ONNX graph does not answer as the numpy model does; it is not published."""


def build_graph(model: TwoLayerNet, side: int = 28, opset: int = 17, doc: str = "") -> onnx.ModelProto:
    """The ONNX model of `model`: input `pixels` uint8 (N, side, side), output `probabilities` (N, classes)."""
    dtype = np.dtype(model.dtype)
    elem = _TYPES[dtype]
    pre = model.preprocessor
    inits = [numpy_helper.from_array(np.array([-1, side * side], dtype=np.int64), "flat_shape")]
    nodes = [helper.make_node("Reshape", [INPUT, "flat_shape"], ["flat"]),
             helper.make_node("Cast", ["flat"], ["x0"], to=elem)]
    x = "x0"
    if pre.mode != "raw":
        # numpy multiplies by the model dtype's 1/255 (Preprocessor.transform): the same constant here.
        inits.append(numpy_helper.from_array(np.array(1.0 / 255.0, dtype=dtype), "scale"))
        nodes.append(helper.make_node("Mul", [x, "scale"], ["x1"]))
        x = "x1"
    if pre.mean is not None:
        inits.append(numpy_helper.from_array(pre.mean.astype(dtype), "mean"))
        nodes.append(helper.make_node("Sub", [x, "mean"], ["x2"]))
        x = "x2"
    for name in ("W1", "b1", "W2", "b2"):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(model.params[name], dtype=dtype), name))
    nodes += [helper.make_node("MatMul", [x, "W1"], ["h0"]),
              helper.make_node("Add", ["h0", "b1"], ["h1"]),
              helper.make_node("Relu", ["h1"], ["h2"]),
              helper.make_node("MatMul", ["h2", "W2"], ["s0"]),
              helper.make_node("Add", ["s0", "b2"], ["scores"]),
              helper.make_node("Softmax", ["scores"], [OUTPUT], axis=1)]
    graph = helper.make_graph(
        nodes, "mnist_twolayer",
        [helper.make_tensor_value_info(INPUT, TensorProto.UINT8, ["N", side, side])],
        [helper.make_tensor_value_info(OUTPUT, elem, ["N", model.num_classes])],
        initializer=inits)
    proto = helper.make_model(graph, producer_name="mnist-twolayer", producer_version="1", doc_string=doc,
                              opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION)
    onnx.checker.check_model(proto)
    return proto


def graph_bytes(proto: onnx.ModelProto) -> bytes:
    """The serialised graph (deterministic: same model, same bytes)."""
    return proto.SerializeToString(deterministic=True)


@dataclass(frozen=True)
class Parity:
    """How the ONNX graph's answers compare with the numpy model's on one image set.

    `ties`: images where the two pick different classes whose numpy probabilities are equal within the
    tolerance (an undertrained model can have such ties; rounding then decides either way).
    """

    images: int
    same_class: int
    ties: int
    max_abs_diff: float

    def ok(self, tolerance: float) -> bool:
        return self.same_class + self.ties == self.images and self.max_abs_diff <= tolerance


def onnx_probabilities(data: bytes, images: np.ndarray, batch_size: int = 10000) -> np.ndarray:
    """Run the serialised graph on uint8 images (N, 28, 28) with onnxruntime (one thread, CPU)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    out = [session.run([OUTPUT], {INPUT: images[i:i + batch_size]})[0] for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.float64)


def check_parity(model: TwoLayerNet, data: bytes, images: np.ndarray, tolerance: float) -> Parity:
    """Compare the graph with the model on `images` (N, 28, 28); raises ParityError unless every image gets
    the same class (or a tie within `tolerance`, see Parity) and every probability is within `tolerance`."""
    ours = probabilities(model, images)
    theirs = onnx_probabilities(data, images)
    mine, other = ours.argmax(1), theirs.argmax(1)
    rows = np.arange(len(images))
    differ = mine != other
    tied = differ & (ours[rows, mine] - ours[rows, other] <= tolerance)
    parity = Parity(len(images), int(np.sum(~differ)), int(np.sum(tied)),
                    float(np.abs(ours - theirs).max()) if len(images) else 0.0)
    if not parity.ok(tolerance):
        raise ParityError(f"the ONNX graph disagrees with the numpy model on "
                          f"{parity.images - parity.same_class - parity.ties} of {parity.images} test images, "
                          f"largest probability difference {parity.max_abs_diff:.2e} (at most {tolerance:.0e} "
                          "allowed); not published")
    return parity
