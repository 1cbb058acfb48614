"""An epoch's minibatches, gathered, distorted and converted; the next one prepared while the current one trains.

`BatchFeed(X, y, batch_size, ...)` turns an epoch's permutation into `(inputs, labels)` minibatches:
the rows gathered into reused buffers, distorted by `augment(batch, rng)` when given, then converted
by the model's preprocessor (uint8 -> floats) when given.

With `ahead=True` one background thread prepares minibatch b + 1 while the caller trains on
minibatch b. numpy's passes and BLAS calls release the GIL, so when the step leaves a core idle
(one BLAS thread on two cores) the distortions run beside it instead of before it; when the BLAS
already uses every core, they compete with its GEMMs and gain nothing (benchmarks/README.md,
"Augmentation cost"). The inputs are the same either way: every minibatch
is prepared by the same calls, in the same order, from the same generator; only the thread differs.
Preparation never runs past the end of an epoch, so whenever an epoch ends the augmentation
generator is exactly where a synchronous feed leaves it, and a run paused after any epoch saves the
same state.
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator

import numpy as np

Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]
Batch = tuple[np.ndarray, np.ndarray]


class BatchFeed:
    """Minibatches of (X, y) for the permutations it is given; a context manager (it may own a thread).

    `preprocessor` has `transform(images, out=)` and converts into a reused buffer of `dtype`; `augment`
    must return the minibatch's shape and dtype. With `ahead`, two buffer sets alternate: the caller
    may use a yielded minibatch until it asks for the next one.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int, *, preprocessor: Any = None,
                 dtype: Any = np.float32, augment: Augment | None = None, ahead: bool = False) -> None:
        self.X, self.y, self.batch_size = X, y, int(batch_size)
        self.preprocessor, self.augment, self.ahead = preprocessor, augment, bool(ahead)
        shape = (self.batch_size, *X.shape[1:])
        slots = range(2 if self.ahead else 1)
        self._images = [np.empty(shape, dtype=X.dtype) for _ in slots]
        self._labels = [np.empty(self.batch_size, dtype=y.dtype) for _ in slots]
        self._inputs = [None if preprocessor is None else np.empty(shape, dtype=dtype) for _ in slots]
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> "BatchFeed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the background thread, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def epoch(self, order: np.ndarray, count: int, rng: np.random.Generator) -> Iterator[Batch]:
        """The first `count` minibatches of `order` (rows batch_size * b ... batch_size * (b + 1))."""
        bs = self.batch_size
        if not self.ahead:
            for b in range(count):
                yield self._prepare(0, order[b * bs:(b + 1) * bs], rng)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-feed")
        pending: Future[Batch] | None = self._pool.submit(self._prepare, 0, order[:bs], rng)
        try:
            for b in range(count):
                ready = pending.result()
                pending = (self._pool.submit(self._prepare, (b + 1) % 2, order[(b + 1) * bs:(b + 2) * bs], rng)
                           if b + 1 < count else None)
                yield ready
        finally:
            if pending is not None:  # the caller stopped early: let the thread finish with its buffers
                wait([pending])

    def _prepare(self, slot: int, rows: np.ndarray, rng: np.random.Generator) -> Batch:
        images, labels = self._images[slot], self._labels[slot]
        np.take(self.X, rows, axis=0, out=images)
        np.take(self.y, rows, out=labels)
        if self.augment is not None:
            distorted = self.augment(images, rng)
            if distorted.shape != images.shape or distorted.dtype != images.dtype:
                raise ValueError(f"augment returned shape {distorted.shape} dtype {distorted.dtype}; "
                                 f"expected the minibatch's {images.shape} {images.dtype}")
            images = distorted
        if self.preprocessor is None:
            return images, labels
        return self.preprocessor.transform(images, out=self._inputs[slot]), labels
