"""TwoLayerNet: affine -> ReLU -> affine -> softmax loss, with L2 regularization."""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from pipeline.nn.layers import affine_backward, affine_forward, l2_backward, l2_forward, relu_backward, relu_forward, softmax_loss
from pipeline.nn.preprocess import Preprocessor

INITS = ("normal", "he")
DTYPES = {"float32": np.float32, "float64": np.float64}
NUM_CLASSES = 10  # the digits: the default size of the output layer
EVAL_CHUNK_BYTES = 4 << 20  # predict: float input per forward pass, at most (see predict)


class TwoLayerNet:
    """The assignment's two-layer network; parameters W1, b1, W2, b2 live in the plain dict `params`.

    `loss(X)` returns class scores; `loss(X, y)` returns `(loss, grads)`. X is a float array
    (N, input_dim) already preprocessed; `predict(images)` takes uint8 images and applies
    `self.preprocessor` itself, in batches.

    `params=` (e.g. arrays saved by the assignment) are used as given, not copied, and fix the
    model's dtype: W1, b1, W2, b2 must all have one float dtype (float32 or float64), which the
    model takes (`dtype=`, if also given, must agree), and the shapes (input_dim, hidden_dim),
    (hidden_dim,), (hidden_dim, num_classes), (num_classes,). Anything else is refused with a
    ValueError naming the array. Without params, the weights are drawn in `dtype` (default float32).

    Training aids, both off by default (0): `dropout` is the probability of zeroing a hidden unit,
    as inverted dropout (survivors scaled by 1 / (1 - dropout)) applied only in `loss(X, y)`, i.e.
    training, with masks from `dropout_rng` (seeded from (seed, "dropout")); `label_smoothing`
    is the eps of the softmax loss's smoothed targets.
    """

    def __init__(
        self,
        input_dim: int = 784,
        hidden_dim: int = 100,
        num_classes: int = NUM_CLASSES,
        weight_scale: float = 1e-3,
        init: str = "normal",
        reg: float = 0.0,
        dtype: Any = None,
        seed: int = 0,
        preprocessor: Preprocessor | None = None,
        params: dict[str, np.ndarray] | None = None,
        dropout: float = 0.0,
        label_smoothing: float = 0.0,
    ) -> None:
        if init not in INITS:
            raise ValueError(f"init {init!r} is not one of {', '.join(INITS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout {dropout!r} must be a probability in [0, 1)")
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing {label_smoothing!r} must be in [0, 1)")
        self.dropout, self.label_smoothing = float(dropout), float(label_smoothing)
        self.dropout_rng = np.random.default_rng([seed, zlib.crc32(b"dropout")])
        self.input_dim, self.hidden_dim, self.num_classes = int(input_dim), int(hidden_dim), int(num_classes)
        self.reg = float(reg)
        given = params["W1"].dtype if isinstance(params, dict) and isinstance(params.get("W1"), np.ndarray) else None
        self.dtype = np.dtype(dtype if dtype is not None else given if given is not None else np.float32)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype {self.dtype} is not float32 or float64")
        self.preprocessor = preprocessor or Preprocessor("raw")
        if params is not None:
            self._check_params(params)
        self.params = params if params is not None else self._init_params(weight_scale, init, seed)
        self._workspace: dict[int, dict[str, np.ndarray]] = {}

    def _check_params(self, params: dict[str, np.ndarray]) -> None:
        d, h, c = self.input_dim, self.hidden_dim, self.num_classes
        expected = {"W1": ((d, h), "(input_dim, hidden_dim)"), "b1": ((h,), "(hidden_dim,)"),
                    "W2": ((h, c), "(hidden_dim, num_classes)"), "b2": ((c,), "(num_classes,)")}
        if not isinstance(params, dict) or set(params) != set(expected):
            got = sorted(params) if isinstance(params, dict) else type(params).__name__
            raise ValueError(f"params must be a dict of exactly W1, b1, W2, b2; got {got}")
        for name, (shape, what) in expected.items():
            a = params[name]
            if not isinstance(a, np.ndarray):
                raise ValueError(f"params[{name!r}] is a {type(a).__name__}; expected a numpy array")
            if a.shape != shape:
                raise ValueError(f"params[{name!r}] has shape {a.shape}; expected {what} = {shape}")
            if a.dtype != self.dtype:
                raise ValueError(f"params[{name!r}] has dtype {a.dtype}; expected {self.dtype}, the model's dtype "
                                 "(that of params['W1'] unless dtype= is given): all four must agree")

    def _init_params(self, weight_scale: float, init: str, seed: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(seed)
        d, h, c = self.input_dim, self.hidden_dim, self.num_classes
        std1, std2 = (np.sqrt(2.0 / d), np.sqrt(2.0 / h)) if init == "he" else (weight_scale, weight_scale)
        return {
            "W1": (std1 * rng.standard_normal((d, h))).astype(self.dtype),
            "b1": np.zeros(h, dtype=self.dtype),
            "W2": (std2 * rng.standard_normal((h, c))).astype(self.dtype),
            "b2": np.zeros(c, dtype=self.dtype),
        }

    def _buffers(self, n: int) -> dict[str, np.ndarray]:
        # Activations for a batch of n rows, reused across calls (training sees one n; evaluation a few).
        ws = self._workspace.get(n)
        if ws is None:
            if len(self._workspace) >= 4:
                self._workspace.clear()
            # Scores are stored class-major, (C, n) in C order, and used through their (n, C)
            # transpose: the softmax's reductions over the C = 10 classes of each row then run as
            # vectorised reductions over contiguous length-n rows (~10x faster for n = 200).
            scores_t = np.empty((self.num_classes, n), dtype=self.dtype)
            ws = self._workspace[n] = {
                "hidden": np.empty((n, self.hidden_dim), dtype=self.dtype),
                "scores_t": scores_t,
                "scores": scores_t.T,
                "dhidden": np.empty((n, self.hidden_dim), dtype=self.dtype),
                # Read-only zeros for the ReLU: np.maximum against a full array runs numpy's SIMD
                # loop (~5x faster than against the scalar 0). Never written, so calloc's pages stay
                # the shared zero page: no resident memory even for large evaluation batches.
                "zeros": np.zeros((n, self.hidden_dim), dtype=self.dtype),
            }
        return ws

    def _dropout_mask(self, n: int) -> np.ndarray:
        """(n, hidden) inverted-dropout mask in a reused buffer: 0 with probability `dropout`, else 1 / (1 - dropout)."""
        ws = self._buffers(n)
        if "mask" not in ws:
            ws["mask"] = np.empty((n, self.hidden_dim), dtype=self.dtype)
            ws["keep"] = np.empty((n, self.hidden_dim), dtype=bool)
        mask, keep = ws["mask"], ws["keep"]
        self.dropout_rng.random(dtype=self.dtype, out=mask)
        np.greater_equal(mask, self.dtype.type(self.dropout), out=keep)
        np.multiply(keep, self.dtype.type(1.0 / (1.0 - self.dropout)), out=mask)
        return mask

    def _forward(self, X: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, tuple[Any, Any, Any]]:
        p = self.params
        X = np.asarray(X, dtype=self.dtype)  # no copy on the hot path, where X already has the model's dtype
        ws = self._buffers(X.shape[0])
        a, cache1 = affine_forward(X, p["W1"], p["b1"], out=ws["hidden"])
        h, cache_relu = relu_forward(a, out=a, zeros=ws["zeros"])
        if mask is not None:
            h *= mask  # dropped units become 0, which relu_backward's mask (h > 0) also zeroes
        # into the class-major scores buffer (see _buffers), which affine_forward fills as W2.T @ h.T
        scores, cache2 = affine_forward(h, p["W2"], p["b2"], out=ws["scores"])
        return scores, (cache1, cache_relu, cache2)

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None, grads_out: dict[str, np.ndarray] | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """Scores (N, C) when `y` is None; otherwise `(loss, grads)`.

        `grads_out`, a dict of arrays shaped like `params`, receives the gradients in place
        (the Solver passes one to avoid allocating every iteration); by default they are new arrays.
        """
        mask = self._dropout_mask(X.shape[0]) if self.dropout and y is not None else None
        scores, (cache1, cache_relu, cache2) = self._forward(X, mask)
        if y is None:
            return scores.copy()
        data_loss, dscores = softmax_loss(scores, y, inplace=True, smoothing=self.label_smoothing)
        g = grads_out if grads_out is not None else {}
        dh_buf = self._buffers(X.shape[0])["dhidden"]
        dh, g["W2"], g["b2"] = affine_backward(
            dscores, cache2, dw_out=g.get("W2"), db_out=g.get("b2"), dx_out=dh_buf
        )
        if mask is not None:
            dh *= mask
        relu_backward(dh, cache_relu, out=dh)
        _, g["W1"], g["b1"] = affine_backward(dh, cache1, need_dx=False, dw_out=g.get("W1"), db_out=g.get("b1"))
        loss = data_loss
        if self.reg:
            reg_loss, reg_cache = l2_forward((self.params["W1"], self.params["W2"]), self.reg)
            l2_backward(reg_cache, (g["W1"], g["W2"]))
            loss += reg_loss
        return loss, g

    def predict(self, images: np.ndarray, batch_size: int = 10000) -> np.ndarray:
        """Predicted class (int64) for each uint8 image, preprocessing and forwarding in large batches."""
        preds = np.empty(images.shape[0], dtype=np.int64)
        # `batch_size` bounds the rows per pass; passes are capped at ~4 MiB of float input so the
        # converted batch is still in cache when the GEMM reads it (8-15% faster than 10,000 rows).
        row_bytes = max(int(np.prod(images.shape[1:])), 1) * self.dtype.itemsize
        batch_size = max(1, min(int(batch_size), max(EVAL_CHUNK_BYTES // row_bytes, 256)))
        xbuf = None
        for start in range(0, images.shape[0], batch_size):
            batch = images[start : start + batch_size]
            if xbuf is None or xbuf.shape[0] != batch.shape[0]:
                xbuf = np.empty(batch.shape, dtype=self.dtype)
            X = self.preprocessor.transform(batch, out=xbuf)
            scores, _ = self._forward(X)
            np.argmax(scores, axis=1, out=preds[start : start + batch.shape[0]])
        return preds

    def accuracy(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 10000) -> float:
        """Fraction of `images` whose predicted class equals `labels`."""
        if images.shape[0] == 0:
            return float("nan")
        return float(np.mean(self.predict(images, batch_size) == labels))
