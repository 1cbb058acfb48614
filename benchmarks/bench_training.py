#!/usr/bin/env python
"""Training-speed benchmark: our numpy Solver vs. its GEMM-only floor vs. PyTorch on the CPU.

For each hidden size H and dtype it times one epoch (N // batch iterations of minibatch SGD on
uint8 images of MNIST's shape, converted per batch) of

  ours   pipeline.nn.solver.Solver training pipeline.nn.model.TwoLayerNet (vanilla SGD);
  floor  the 5 GEMMs each iteration needs and nothing else, on the same shapes, preallocated:
         X@W1, h@W2, dscores@W2.T, h.T@dscores, X.T@dh (the first layer's dx is never needed);
  torch  the same model (Linear-ReLU-Linear, cross-entropy), torch.optim.SGD, batch and per-batch
         uint8 -> float conversion, with `--threads` intra-op threads (skipped, with a note,
         when torch is not importable; install it with requirements-bench.txt);
  torch floor  the same 5 GEMMs through torch.mm, i.e. PyTorch's own BLAS (which need not use the
         kernels OPENBLAS_CORETYPE picks for numpy).

The contenders are interleaved (ours, floor, torch, torch floor, ours, ...) and medians
are reported, since a shared 2-core machine is noisy. It also times evaluation (model.predict
over the training split) against its GEMM floor (the forward GEMMs over the same rows, same
batches, on pre-converted floats), and measures the peak RSS of a full training run
(pipeline.training.train, one epoch, with its accuracy checks) in a fresh subprocess via
resource.getrusage(RUSAGE_SELF).ru_maxrss.

Data is synthetic by default (seeded uint8 images 55,000 x 784, labels 0..9), so it runs without
the dataset; `--data data/prepared` uses the prepared split (train.npz: images, labels) instead.

  python benchmarks/bench_training.py                     # the full table (a few minutes)
  python benchmarks/bench_training.py --json              # the same, as JSON on stdout
  python benchmarks/bench_training.py --hidden 25 --epochs 1 --train-size 2000 --repeats 1
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pipeline.data.split import load_prepared
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.solver import Solver

ROOT = Path(__file__).resolve().parent.parent

NUM_CLASSES = 10
PIXELS = 784
FULL_TRAIN = 55000
FULL_VAL = 5000
TORCH_ABSENT_NOTE = (
    "torch is not importable here: the PyTorch column is skipped "
    "(pip install -r requirements-bench.txt installs the CPU build)"
)


# ----------------------------------------------------------------------------------------- data
def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded uint8 images (n, 784) and uint8 labels 0..9, MNIST's dtypes and shapes."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, PIXELS), dtype=np.uint8), rng.integers(0, NUM_CLASSES, n, dtype=np.uint8)


def load_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """Training images and labels (the first `train_size`), and a description of where from."""
    if args.data:
        path = Path(args.data) / "train.npz"
        if not path.exists():
            raise SystemExit(f"--data {args.data}: {path} does not exist (run the split stage first)")
        images, labels = load_prepared(path)  # validates dtype, shape and labels, naming the file
        n = min(args.train_size, images.shape[0])
        return images[:n], labels[:n], f"{path} (first {n} images)"
    images, labels = synthetic(args.train_size, args.seed)
    return images, labels, f"synthetic uint8, seed {args.seed}"


# ---------------------------------------------------------------------------------- contenders
def make_ours(images: np.ndarray, labels: np.ndarray, hidden: int, dtype: str, args: argparse.Namespace
              ) -> Callable[[], float]:
    """One timed call = `args.epochs` epochs of Solver.train (its accuracy checks use one batch)."""
    pre = Preprocessor.fit(args.input_scaling, images)
    small = min(args.batch_size, images.shape[0])
    state = {"seed": 0}

    def run() -> float:
        state["seed"] += 1
        model = TwoLayerNet(images.shape[1], hidden, NUM_CLASSES, init="he", dtype=dtype, seed=0, preprocessor=pre)
        data = {"X_train": images, "y_train": labels, "X_val": images[:small], "y_val": labels[:small]}
        solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": args.lr},
                        batch_size=args.batch_size, num_epochs=args.epochs, num_train_samples=small,
                        verbose=False, progress=False, seed=state["seed"])
        start = time.perf_counter()
        solver.train()
        return time.perf_counter() - start

    return run


def make_floor(images: np.ndarray, hidden: int, dtype: str, args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = the 5 GEMMs of each iteration, `args.epochs` epochs' worth, nothing else."""
    dt = np.dtype(dtype)
    n, d = images.shape
    bs = min(args.batch_size, n)
    iters = max(n // bs, 1) * args.epochs
    rng = np.random.default_rng(1)
    x = (images[:bs] / 255.0).astype(dt)
    w1 = (0.05 * rng.standard_normal((d, hidden))).astype(dt)
    w2 = (0.05 * rng.standard_normal((hidden, NUM_CLASSES))).astype(dt)
    h = np.empty((bs, hidden), dt)
    s = np.empty((bs, NUM_CLASSES), dt)
    dh = np.empty((bs, hidden), dt)
    dw1, dw2 = np.empty_like(w1), np.empty_like(w2)

    def run() -> float:
        start = time.perf_counter()
        for _ in range(iters):
            np.dot(x, w1, out=h)
            np.dot(h, w2, out=s)
            np.dot(s, w2.T, out=dh)
            np.dot(h.T, s, out=dw2)
            np.dot(x.T, dh, out=dw1)
        return time.perf_counter() - start

    return run


def make_torch_floor(torch: Any, images: np.ndarray, hidden: int, dtype: str,
                     args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = the same 5 GEMMs per iteration as make_floor, through torch.mm (PyTorch's BLAS)."""
    tdt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    n, d = images.shape
    bs = min(args.batch_size, n)
    iters = max(n // bs, 1) * args.epochs
    gen = torch.Generator().manual_seed(1)
    x = torch.from_numpy(images[:bs]).to(tdt) / 255.0
    w1 = 0.05 * torch.randn((d, hidden), generator=gen, dtype=tdt)
    w2 = 0.05 * torch.randn((hidden, NUM_CLASSES), generator=gen, dtype=tdt)
    h, s, dh = torch.empty((bs, hidden), dtype=tdt), torch.empty((bs, NUM_CLASSES), dtype=tdt), torch.empty((bs, hidden), dtype=tdt)
    dw1, dw2 = torch.empty_like(w1), torch.empty_like(w2)

    def run() -> float:
        start = time.perf_counter()
        with torch.no_grad():
            for _ in range(iters):
                torch.mm(x, w1, out=h)
                torch.mm(h, w2, out=s)
                torch.mm(s, w2.T, out=dh)
                torch.mm(h.T, s, out=dw2)
                torch.mm(x.T, dh, out=dw1)
        return time.perf_counter() - start

    return run


def make_torch(torch: Any, images: np.ndarray, labels: np.ndarray, hidden: int, dtype: str,
               args: argparse.Namespace) -> Callable[[], float]:
    """One timed call = `args.epochs` epochs of the same model, SGD and batch in PyTorch."""
    import torch.nn.functional as F

    tdt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    X = torch.from_numpy(images)
    Y = torch.from_numpy(labels.astype(np.int64))
    n = X.shape[0]
    bs = min(args.batch_size, n)
    per_epoch = max(n // bs, 1)
    scale = None if args.input_scaling == "raw" else 1.0 / 255.0
    mean = None
    if args.input_scaling == "unit_centered":
        mean = torch.from_numpy(Preprocessor.fit("unit_centered", images).mean).to(tdt)
    gen = torch.Generator().manual_seed(0)

    def run() -> float:
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(images.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, NUM_CLASSES)
        ).to(tdt)
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
        start = time.perf_counter()
        for _ in range(args.epochs):
            order = torch.randperm(n, generator=gen)
            for b in range(per_epoch):
                idx = order[b * bs:(b + 1) * bs]
                xb = X.index_select(0, idx).to(tdt)
                if scale is not None:
                    xb.mul_(scale)
                if mean is not None:
                    xb.sub_(mean)
                loss = F.cross_entropy(model(xb), Y.index_select(0, idx))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss.item()  # ours reads the loss every iteration too (divergence check, history)
        return time.perf_counter() - start

    return run


def make_eval(images: np.ndarray, hidden: int, dtype: str, args: argparse.Namespace
              ) -> tuple[Callable[[], float], Callable[[], float]]:
    """model.predict over all `images`, and its floor: the forward GEMMs over the same batches."""
    dt = np.dtype(dtype)
    pre = Preprocessor.fit(args.input_scaling, images)
    model = TwoLayerNet(images.shape[1], hidden, NUM_CLASSES, init="he", dtype=dtype, seed=0, preprocessor=pre)
    eb = min(args.eval_batch_size, images.shape[0])
    xf = pre.transform(images[:eb], dtype=dt)  # one pre-converted batch, reused: the floor reads no uint8
    h = np.empty((eb, hidden), dt)
    s = np.empty((eb, NUM_CLASSES), dt)
    p = model.params
    n = images.shape[0]

    def predict() -> float:
        start = time.perf_counter()
        model.predict(images, batch_size=args.eval_batch_size)
        return time.perf_counter() - start

    def floor() -> float:
        start = time.perf_counter()
        for lo in range(0, n, eb):
            m = min(eb, n - lo)
            np.dot(xf[:m], p["W1"], out=h[:m])
            np.dot(h[:m], p["W2"], out=s[:m])
        return time.perf_counter() - start

    return predict, floor


# ------------------------------------------------------------------------------------ peak RSS
def rss_child(hidden: int, dtype: str, train_size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run in a fresh process: one epoch of pipeline.training.train on full-size data; peak RSS."""
    from pipeline.training import TrainParams, train

    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.data:
        args.train_size = train_size
        images, labels, _ = load_data(args)
        val_path = Path(args.data) / "val.npz"
        if val_path.exists():
            vi, vl = load_prepared(val_path)
        else:
            vi, vl = images[-FULL_VAL:], labels[-FULL_VAL:]
    else:
        images, labels = synthetic(train_size, args.seed)
        vi, vl = synthetic(min(FULL_VAL, train_size), args.seed + 1)
    data = {"X_train": images, "y_train": labels, "X_val": vi, "y_val": vl}
    data_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    config = TrainParams(hidden_dim=hidden, dtype=dtype, input_scaling=args.input_scaling, init="he",
                         lr=args.lr, batch_size=args.batch_size, num_epochs=1)
    start = time.perf_counter()
    train(config, data, verbose=False, progress=False)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    hwm_kb = vm_hwm_kb()
    return {"hidden": hidden, "dtype": dtype, "train_size": int(images.shape[0]), "val_size": int(vi.shape[0]),
            "import_rss_mb": kb / 1024, "data_rss_mb": data_kb / 1024, "ru_maxrss_mb": peak_kb / 1024,
            "vm_hwm_mb": None if hwm_kb is None else hwm_kb / 1024,
            "peak_rss_mb": (peak_kb if hwm_kb is None else min(peak_kb, hwm_kb)) / 1024,
            "train_seconds": seconds}


def vm_hwm_kb() -> int | None:
    """This process image's own peak RSS (Linux /proc VmHWM), or None where there is no /proc.

    ru_maxrss alone can overstate a child's peak: Linux carries the parent's high-water mark
    across fork+exec. The parent therefore measures RSS before it loads data or imports torch,
    and the child reports the smaller of the two.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def measure_rss(hidden: int, dtype: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_rss-child", str(hidden), dtype,
           "--rss-train-size", str(args.rss_train_size), "--input-scaling", args.input_scaling,
           "--lr", str(args.lr), "--batch-size", str(args.batch_size), "--seed", str(args.seed)]
    if args.data:
        cmd += ["--data", args.data]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=str(ROOT))
    return json.loads(out.stdout.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------- machine
def openblas_info() -> dict[str, Any]:
    """OpenBLAS core (kernel) name, config and thread count of numpy's bundled library, if found."""
    info: dict[str, Any] = {}
    libs = []
    for line in open("/proc/self/maps", encoding="ascii", errors="replace"):
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        if "openblas" in os.path.basename(path).lower() and path not in libs:
            libs.append(path)
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for suffix in ("64_", "", "_64"):
            for prefix in ("scipy_", ""):
                corename = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
                if corename is None:
                    continue
                corename.restype = ctypes.c_char_p
                info["library"] = os.path.basename(path)
                info["corename"] = corename().decode()
                config = getattr(lib, f"{prefix}openblas_get_config{suffix}", None)
                if config is not None:
                    config.restype = ctypes.c_char_p
                    info["config"] = config().decode().strip()
                threads = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
                if threads is not None:
                    info["threads"] = int(threads())
                return info
    return info


def machine_info(torch: Any) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": getattr(torch, "__version__", None),
        "openblas": openblas_info(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
    }


# ------------------------------------------------------------------------------------------ run
def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def bench(args: argparse.Namespace) -> dict[str, Any]:
    # Peak RSS first, in fresh subprocesses, while this process is still small (see vm_hwm_kb).
    rss_rows = [] if args.no_rss else [measure_rss(h, d, args) for d in args.dtypes for h in args.hidden]
    for rss in rss_rows:
        log(args, f"rss    H={rss['hidden']:<4d} {rss['dtype']}: peak {rss['peak_rss_mb']:.0f} MB")
    torch = None
    torch_note = "disabled with --no-torch" if args.no_torch else None
    if not args.no_torch:
        try:
            import torch as _torch

            torch = _torch
            torch.set_num_threads(args.threads)
            torch_note = f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads"
        except ImportError:
            torch_note = TORCH_ABSENT_NOTE

    images, labels, source = load_data(args)
    n = images.shape[0]
    bs = min(args.batch_size, n)
    result: dict[str, Any] = {
        "command": "python benchmarks/bench_training.py " + " ".join(args.argv),
        "machine": machine_info(torch),
        "settings": {
            "data": source, "train_size": n, "batch_size": bs, "iterations_per_epoch": max(n // bs, 1),
            "epochs_per_sample": args.epochs, "repeats": args.repeats, "input_scaling": args.input_scaling,
            "lr": args.lr, "eval_batch_size": args.eval_batch_size, "torch_threads": args.threads,
            "settle_s": args.settle,
        },
        "torch": {"available": torch is not None, "note": torch_note},
        "training": [],
        "evaluation": [],
        "peak_rss": rss_rows,
    }
    for dtype in args.dtypes:
        for hidden in args.hidden:
            contenders: dict[str, Callable[[], float]] = {
                "ours": make_ours(images, labels, hidden, dtype, args),
                "floor": make_floor(images, hidden, dtype, args),
            }
            if torch is not None:
                contenders["torch"] = make_torch(torch, images, labels, hidden, dtype, args)
                contenders["torch_floor"] = make_torch_floor(torch, images, hidden, dtype, args)
            samples: dict[str, list[float]] = {k: [] for k in contenders}
            # Warm up each contender once on a short run (thread pools, first-touch allocations).
            warm = argparse.Namespace(**{**vars(args), "epochs": 1})
            wn = min(n, 10 * bs)
            make_ours(images[:wn], labels[:wn], hidden, dtype, warm)()
            make_floor(images[:wn], hidden, dtype, warm)()
            if torch is not None:
                make_torch(torch, images[:wn], labels[:wn], hidden, dtype, warm)()
                make_torch_floor(torch, images[:wn], hidden, dtype, warm)()
            for _ in range(args.repeats):
                for name, run in contenders.items():
                    # Let the previous contender's idle threads stop spinning (OpenBLAS, OpenMP):
                    # without the pause torch's spinning workers slow the next numpy run ~15%.
                    time.sleep(args.settle)
                    samples[name].append(run() / args.epochs)
            ours, floor = median(samples["ours"]), median(samples["floor"])
            row: dict[str, Any] = {
                "hidden": hidden, "dtype": dtype,
                "ours_s": ours, "floor_s": floor, "torch_s": None, "torch_floor_s": None,
                "ours_over_floor": ours / floor, "torch_over_ours": None,
                "samples": samples,
            }
            if torch is not None:
                row["torch_s"] = median(samples["torch"])
                row["torch_over_ours"] = row["torch_s"] / ours
                row["torch_floor_s"] = median(samples["torch_floor"])
            result["training"].append(row)
            log(args, f"train  H={hidden:<4d} {dtype}: ours {ours:.3f}s floor {floor:.3f}s "
                      f"torch {row['torch_s'] if row['torch_s'] is None else round(row['torch_s'], 3)}s")

            if not args.no_eval:
                predict, efloor = make_eval(images, hidden, dtype, args)
                predict(), efloor()
                ps, fs = [], []
                for _ in range(args.repeats):
                    time.sleep(args.settle)
                    ps.append(predict())
                    time.sleep(args.settle)
                    fs.append(efloor())
                result["evaluation"].append({
                    "hidden": hidden, "dtype": dtype, "rows": n,
                    "predict_s": median(ps), "floor_s": median(fs), "predict_over_floor": median(ps) / median(fs),
                })
    return result


def log(args: argparse.Namespace, msg: str) -> None:
    if not args.quiet:
        print(msg, file=sys.stderr, flush=True)


def fmt(x: float | None, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def render(result: dict[str, Any]) -> str:
    """The result as Markdown tables."""
    s, m = result["settings"], result["machine"]
    ob = m["openblas"]
    lines = [
        f"Command: `{result['command']}`",
        "",
        f"Data: {s['data']}; {s['train_size']} images, batch {s['batch_size']}, "
        f"{s['iterations_per_epoch']} iterations per epoch, input scaling {s['input_scaling']}, "
        f"medians of {s['repeats']} interleaved runs of {s['epochs_per_sample']} epoch(s).",
        f"Machine: {m['cpu_count']} CPUs, Python {m['python']}, numpy {m['numpy']}, "
        f"OpenBLAS core {ob.get('corename', '?')} ({ob.get('threads', '?')} threads), "
        f"env {' '.join(f'{k}={v}' for k, v in m['env'].items()) or '(none)'}.",
        f"PyTorch: {result['torch']['note']}.",
        "",
        "Training, seconds per epoch (floor = the 5 GEMMs per iteration alone):",
        "",
        "| H | dtype | ours s/epoch | GEMM floor s | ours / floor | PyTorch s/epoch | PyTorch / ours "
        "| PyTorch GEMM floor s | our floor / PyTorch's |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["training"]:
        tf = r.get("torch_floor_s")
        lines.append(f"| {r['hidden']} | {r['dtype']} | {r['ours_s']:.3f} | {r['floor_s']:.3f} | "
                     f"{r['ours_over_floor']:.2f}x | {fmt(r['torch_s'], '.3f')} | "
                     f"{fmt(r['torch_over_ours'], '.2f')}{'x' if r['torch_over_ours'] is not None else ''} | "
                     f"{fmt(tf, '.3f')} | {fmt(None if tf is None else r['floor_s'] / tf, '.2f')}"
                     f"{'x' if tf is not None else ''} |")
    if result["evaluation"]:
        lines += ["", f"Evaluation, model.predict over {result['evaluation'][0]['rows']} images "
                      f"(batch_size={s['eval_batch_size']}; floor = X@W1 and h@W2 over the same rows "
                      f"in batches of {s['eval_batch_size']}, on pre-converted floats):", "",
                  "| H | dtype | predict s | GEMM floor s | predict / floor |", "|---:|---|---:|---:|---:|"]
        for r in result["evaluation"]:
            lines.append(f"| {r['hidden']} | {r['dtype']} | {r['predict_s']:.3f} | {r['floor_s']:.3f} | "
                         f"{r['predict_over_floor']:.2f}x |")
    if result["peak_rss"]:
        r0 = result["peak_rss"][0]
        lines += ["", f"Peak RSS of one epoch of pipeline.training.train (fresh process, {r0['train_size']} "
                      f"train + {r0['val_size']} val images, accuracy checks included; the child's own VmHWM, "
                      f"capped by getrusage ru_maxrss):", "",
                  "| H | dtype | after imports MB | with data MB | peak MB |", "|---:|---|---:|---:|---:|"]
        for r in result["peak_rss"]:
            lines.append(f"| {r['hidden']} | {r['dtype']} | {r['import_rss_mb']:.0f} | {r['data_rss_mb']:.0f} | "
                         f"{r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--hidden", type=int, nargs="+", default=[25, 100, 256, 800], help="hidden sizes H")
    p.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32", "float64"])
    p.add_argument("--epochs", type=int, default=1, help="epochs per timed run (reported per epoch)")
    p.add_argument("--repeats", type=int, default=5, help="interleaved timed runs per contender; medians")
    p.add_argument("--train-size", type=int, default=FULL_TRAIN, help="training images (default 55,000)")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--eval-batch-size", type=int, default=10000, help="model.predict batch size")
    p.add_argument("--input-scaling", choices=["raw", "unit", "unit_centered"], default="unit")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (both frameworks)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--data", default=None, help="a prepared split folder (e.g. data/prepared) instead of synthetic")
    p.add_argument("--threads", type=int, default=2, help="PyTorch intra-op threads")
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds of idle before each timed run, so no contender's spinning threads remain")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even when importable")
    p.add_argument("--no-eval", action="store_true", help="skip the evaluation timing")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses")
    p.add_argument("--rss-train-size", type=int, default=FULL_TRAIN,
                   help="training images of the peak-RSS run (default the full 55,000)")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--save", metavar="PATH", help="also write the JSON results to PATH")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument("--_rss-child", nargs=2, metavar=("H", "DTYPE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    for name in ("epochs", "repeats", "train_size", "batch_size", "eval_batch_size", "rss_train_size", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if any(h < 1 for h in args.hidden):
        p.error("--hidden sizes must be at least 1")
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args._rss_child:
        print(json.dumps(rss_child(int(args._rss_child[0]), args._rss_child[1], args.rss_train_size, args)))
        return 0
    result = bench(args)
    if args.save:
        Path(args.save).write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
