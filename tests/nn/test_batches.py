"""pipeline.nn.batches: the same minibatches with or without the background thread, and real overlap."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pipeline.nn.augment import AugmentConfig, Augmenter
from pipeline.nn.batches import BatchFeed
from pipeline.nn.loop import LoopSettings, TrainingLoop
from pipeline.nn.model import TwoLayerNet
from pipeline.nn.optim import Momentum
from pipeline.nn.preprocess import Preprocessor
from pipeline.nn.schedules import Exponential
from support import small_data

DISTORT = Augmenter(AugmentConfig(shift=1, rotation=10, scale=0.1, shear=5, elastic_alpha=8, elastic_sigma=2), (8, 8))


@pytest.fixture(scope="module")
def blocks():
    return small_data(0, 120, 40)


def epoch_batches(blocks, ahead: bool, seed: int = 3) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict]:
    rng = np.random.default_rng(seed)
    order = np.random.default_rng(0).permutation(len(blocks["X_train"]))
    with BatchFeed(blocks["X_train"], blocks["y_train"], 16, preprocessor=Preprocessor("unit"),
                   augment=DISTORT, ahead=ahead) as feed:
        batches = [(x.copy(), y.copy()) for x, y in feed.epoch(order, 7, rng)]
    return batches, rng.bit_generator.state


def test_ahead_gives_the_same_minibatches_and_leaves_the_generator_where_a_synchronous_feed_does(blocks):
    sync, sync_state = epoch_batches(blocks, ahead=False)
    ahead, ahead_state = epoch_batches(blocks, ahead=True)
    assert len(sync) == len(ahead) == 7
    for (xs, ys), (xa, ya) in zip(sync, ahead):
        assert xs.dtype == np.float32 and np.array_equal(xs, xa) and np.array_equal(ys, ya)
    assert ahead_state == sync_state
    other_seed, _ = epoch_batches(blocks, ahead=False, seed=4)
    assert not np.array_equal(other_seed[0][0], sync[0][0])  # the generator does drive the distortions


def test_the_next_minibatch_is_prepared_in_another_thread_while_the_caller_holds_this_one(blocks):
    calls: list[int] = []

    def recording(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        calls.append(threading.get_ident())
        return images.copy()

    order = np.arange(len(blocks["X_train"]))
    with BatchFeed(blocks["X_train"], blocks["y_train"], 16, augment=recording, ahead=True) as feed:
        batches = feed.epoch(order, 3, np.random.default_rng(0))
        first, _ = next(batches)
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) == 2  # minibatch 1 was prepared before the caller asked for it
        assert np.array_equal(first, blocks["X_train"][:16])
        assert len(list(batches)) == 2
    assert len(calls) == 3  # never past the epoch's end
    assert threading.get_ident() not in calls
    assert feed._pool is None  # closed with the context


def test_a_caller_stopping_early_waits_for_the_thread_and_keeps_its_buffers_whole(blocks):
    started, release = threading.Event(), threading.Event()

    def slow(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if started.is_set():
            release.wait(5)
        started.set()
        return images.copy()

    feed = BatchFeed(blocks["X_train"], blocks["y_train"], 16, augment=slow, ahead=True)
    batches = feed.epoch(np.arange(len(blocks["X_train"])), 4, np.random.default_rng(0))
    next(batches)
    threading.Timer(0.2, release.set).start()
    batches.close()  # waits for the minibatch in preparation
    assert release.is_set()
    feed.close()
    assert feed._pool is None


def test_a_wrongly_shaped_augmentation_is_refused_from_the_thread_too(blocks):
    with BatchFeed(blocks["X_train"], blocks["y_train"], 16, augment=lambda b, rng: b[:, :10], ahead=True) as feed:
        with pytest.raises(ValueError, match=r"augment returned shape \(16, 10\) dtype uint8; expected .*\(16, 64\)"):
            list(feed.epoch(np.arange(len(blocks["X_train"])), 2, np.random.default_rng(0)))


def trained(blocks, prefetch: bool, pause_at: int | None = None) -> TrainingLoop:
    model = TwoLayerNet(64, 12, 4, weight_scale=1e-2, preprocessor=Preprocessor("unit"), seed=1, dropout=0.2)
    loop = TrainingLoop(model, blocks, Momentum(0.9), Exponential(5e-2, 0.9),
                        LoopSettings(batch_size=16, num_epochs=4, seed=5, verbose=False, progress=False,
                                     prefetch=prefetch), augment=DISTORT)
    if pause_at is not None:
        loop.train(until_epoch=pause_at)
    return loop.train()


def test_an_augmented_run_trains_the_same_parameters_with_and_without_the_thread(blocks):
    sync, ahead, paused = trained(blocks, False), trained(blocks, True), trained(blocks, True, pause_at=1)
    for run in (ahead, paused):
        assert run.loss_history == sync.loss_history and run.val_acc_history == sync.val_acc_history
        assert run.augment_rng.bit_generator.state == sync.augment_rng.bit_generator.state
        for k, v in sync.model.params.items():
            assert np.array_equal(run.model.params[k], v)
