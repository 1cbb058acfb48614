"""Stage export: the search's best model as ONNX (preprocessing inside), published only if onnxruntime
answers as the numpy model does on the whole test set."""
from __future__ import annotations

from pipeline.common.cli import run_stage, stage_parser
from pipeline.common.params import load_section
from pipeline.common.publish import publish
from pipeline.data.split import load_prepared
from pipeline.nn.npz import atomic_write
from pipeline.persistence import load_model
from pipeline.use.onnx_export import ExportParams, build_graph, check_parity, graph_bytes


def main(args) -> None:
    params = load_section(ExportParams, "export", args.params)
    model, _ = load_model(args.model)
    images, _ = load_prepared(args.test)
    doc = (f"{args.model} as ONNX: input 'pixels' uint8 (N, 28, 28), MNIST-style digits (light ink on black, "
           "prepared as pipeline.use.prepare does); output 'probabilities' (N, 10).")
    data = graph_bytes(build_graph(model, opset=params.opset, doc=doc))
    parity = check_parity(model, data, images.reshape(-1, 28, 28), params.tolerance)
    with publish([args.out], "export") as out:
        with atomic_write(out[args.out]) as f:
            f.write(data)
    ties = f" ({parity.ties} more tied within {params.tolerance:.0e})" if parity.ties else ""
    print(f"export: {args.out}: same class on {parity.same_class} of {parity.images} test images{ties}, "
          f"largest probability difference {parity.max_abs_diff:.1e}")


if __name__ == "__main__":
    parser = stage_parser("Export the search's best model as ONNX after checking it answers as the numpy model.")
    parser.add_argument("--model", default="models/best.npz", help="model to export")
    parser.add_argument("--test", default="data/prepared/test.npz", help="test split for the parity check")
    parser.add_argument("--out", default="models/best.onnx", help="ONNX file written")
    run_stage(main, parser, script=__file__)
