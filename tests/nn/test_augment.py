"""pipeline.nn.augment: batch-vectorised shifts, affine maps and elastic distortions of uint8 digits."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.nn.augment import (AugmentConfig, Augmenter, gaussian_matrix, make_augmenter, random_bytes,
                                 smooth_noise_factor)
from pipeline.nn.npz import save_npz
from pipeline.plotting.augmentation import augment_config_of, augmentation_mosaic, plot_augmentation, plot_model_augmentation

EVERYTHING = AugmentConfig(shift=2, rotation=15, scale=0.15, shear=15, elastic_alpha=34, elastic_sigma=4)
CONFIGS = [AugmentConfig(shift=3), AugmentConfig(rotation=20), AugmentConfig(scale=0.2), AugmentConfig(shear=20),
           AugmentConfig(elastic_alpha=34), EVERYTHING]


def digits(n: int = 16, seed: int = 0) -> np.ndarray:
    """uint8 (n, 784) images: a bright random blob in the middle of each, black border (like MNIST)."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 28, 28), dtype=np.uint8)
    imgs[:, 6:22, 8:20] = rng.integers(0, 256, (n, 16, 12), dtype=np.uint8)
    return imgs.reshape(n, 784)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}" for k, v in vars(c).items()
                                                                      if v and k != "elastic_sigma"))
def test_shape_dtype_range_and_change(config):
    images = digits()
    before = images.copy()
    out = Augmenter(config)(images, np.random.default_rng(0))
    assert out.shape == images.shape and out.dtype == np.uint8
    assert np.array_equal(images, before), "the input batch must not be modified"
    per_image = out.reshape(len(out), -1)
    assert (per_image.min(axis=1) == 0).all(), "each image keeps some black background"
    assert (per_image.max(axis=1) >= 200).all(), "each image keeps bright ink (no wrapped or dimmed values)"
    assert not np.array_equal(out, images), "a non-zero magnitude must change some image"
    # Ink is moved, not created: total brightness stays of the same order.
    ratio = out.sum(dtype=np.int64) / images.sum(dtype=np.int64)
    assert 0.6 < ratio < 1.6


def test_three_d_batches_keep_their_shape():
    images = digits(4).reshape(4, 28, 28)
    out = Augmenter(EVERYTHING)(images, np.random.default_rng(0))
    assert out.shape == (4, 28, 28) and out.dtype == np.uint8


def test_deterministic_per_seed_and_different_across_seeds():
    images = digits()
    aug = Augmenter(EVERYTHING)
    a = aug(images, np.random.default_rng(5))
    b = Augmenter(EVERYTHING)(images, np.random.default_rng(5))
    c = aug(images, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_each_image_gets_its_own_transform():
    one = digits(1)
    out = Augmenter(AugmentConfig(rotation=30, elastic_alpha=20))(np.repeat(one, 8, axis=0), np.random.default_rng(0))
    assert len({row.tobytes() for row in out}) == 8


def test_zero_magnitude_is_the_identity():
    images = digits()
    rng = np.random.default_rng(0)
    out = Augmenter(AugmentConfig())(images, rng)
    assert np.array_equal(out, images)
    # Degenerate but non-zero settings that map every pixel to itself go through the same arithmetic.
    assert np.array_equal(Augmenter(AugmentConfig(scale=1e-12, rotation=1e-12))(images, rng), images)
    assert make_augmenter(AugmentConfig()) is None
    assert make_augmenter(None) is None
    assert isinstance(make_augmenter(AugmentConfig(shift=1)), Augmenter)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shift_by_k_moves_a_known_pattern_by_k(k):
    pattern = np.zeros((28, 28), dtype=np.uint8)
    pattern[10:14, 12:15] = np.arange(1, 13, dtype=np.uint8).reshape(4, 3) * 20
    images = np.repeat(pattern.reshape(1, 784), 64, axis=0)
    out = Augmenter(AugmentConfig(shift=k))(images, np.random.default_rng(1)).reshape(-1, 28, 28)
    moves = set()
    for img in out:
        ys, xs = np.nonzero(img)
        dy, dx = int(ys.min()) - 10, int(xs.min()) - 12
        assert max(abs(dy), abs(dx)) <= k
        assert np.array_equal(img, np.roll(pattern, (dy, dx), axis=(0, 1))), "a shift moves pixels exactly"
        moves.add((dy, dx))
    assert (k, k) in moves or (-k, -k) in moves or (k, -k) in moves or (-k, k) in moves
    assert len(moves) >= min((2 * k + 1) ** 2, 20), "shifts are drawn per image over the whole range"


def test_shift_beyond_the_border_reads_zeros():
    images = np.full((32, 784), 255, dtype=np.uint8)
    out = Augmenter(AugmentConfig(shift=3))(images, np.random.default_rng(0)).reshape(-1, 28, 28)
    for img in out:
        assert (img == 0).any() or (img == 255).all()
        assert set(np.unique(img)) <= {0, 255}


def test_rotation_turns_about_the_centre():
    images = digits(4)
    out = Augmenter(AugmentConfig(rotation=1e-9))(images, np.random.default_rng(0))
    assert np.array_equal(out, images)
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    img[0, 13:15, 13:15] = 200  # the centre 2x2 block is invariant under any rotation about the centre
    out = Augmenter(AugmentConfig(rotation=90))(np.repeat(img.reshape(1, 784), 8, axis=0), np.random.default_rng(0))
    assert (out.reshape(-1, 28, 28)[:, 13:15, 13:15] > 100).all()


def test_labels_are_untouched_by_construction():
    # The hook sees images only; the Solver keeps the batch's labels as they are.
    aug = Augmenter(EVERYTHING)
    with pytest.raises(TypeError, match="takes 3 positional arguments but 4 were given"):
        aug(digits(), np.random.default_rng(0), np.zeros(16))  # no labels parameter to change


def test_bad_inputs_are_named():
    aug = Augmenter(AugmentConfig(shift=1))
    with pytest.raises(ValueError, match="uint8"):
        aug(digits().astype(np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="28x28"):
        aug(np.zeros((3, 100), dtype=np.uint8), np.random.default_rng(0))
    for kwargs, word in [({"shift": -1}, "shift"), ({"scale": 1.0}, "scale"), ({"elastic_sigma": 0.0}, "elastic_sigma"),
                         ({"rotation": -5.0}, "rotation")]:
        with pytest.raises(ValueError, match=word):
            AugmentConfig(**kwargs)


def test_gaussian_matrix_smooths_like_a_normalised_filter():
    g = gaussian_matrix(28, 2.0)
    assert g.shape == (28, 28)
    assert np.allclose(g[14].sum(), 1.0, atol=1e-4)  # interior row: the whole kernel
    assert g[0].sum() < 0.9  # at the edge part of the kernel falls outside (zeros beyond the image)
    assert np.allclose(g, g.T)
    v = np.random.default_rng(0).uniform(-1, 1, 28)
    assert np.std(g @ v) < 0.5 * np.std(v)


@pytest.mark.parametrize("sigma, rank", [(2.0, 17), (4.0, 9), (6.0, 7)])
def test_smooth_noise_factor_has_the_gaussian_filters_covariance(sigma, rank):
    g = gaussian_matrix(28, sigma).astype(np.float64)
    a = smooth_noise_factor(28, sigma)
    assert a.dtype == np.float32 and a.shape == (28, rank)
    want = g @ g.T
    got = a.astype(np.float64) @ a.T.astype(np.float64)
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < 2e-3
    assert np.linalg.norm(got - want) / np.linalg.norm(want) > 0, "a factor of lower rank than the filter"
    lead = (np.abs(a) >= 0.5 * np.abs(a).max(axis=0)).argmax(axis=0)
    assert (a[lead, np.arange(rank)] > 0).all(), "each column's sign is fixed: its first large entry is positive"
    assert np.array_equal(a, smooth_noise_factor(28, sigma))


def test_elastic_field_has_the_covariance_of_smoothed_pixel_noise():
    # Simard et al.'s field: uniform noise on every pixel, filtered by G along both axes, times alpha. Its
    # covariance is alpha^2 var(u) (G G.T)[y, y'] (G G.T)[x, x']; the drawn field must have the same.
    alpha, sigma, n = 30.0, 4.0, 2000
    aug = Augmenter(AugmentConfig(elastic_alpha=alpha, elastic_sigma=sigma))
    field = aug._positions(n, np.random.default_rng(3), aug._workspace(n)).astype(np.float64)
    identity = np.stack(np.broadcast_arrays(np.arange(28)[None, :] + 1.0, np.arange(28)[:, None] + 1.0))
    disp = (field - identity[:, None]).reshape(2 * n, 28, 28)  # x and y displacements, i.i.d. fields
    levels = (np.arange(256) + 0.5) / 128 - 1
    c = gaussian_matrix(28, sigma).astype(np.float64)
    c = c @ c.T
    var = alpha ** 2 * (levels ** 2).mean() * np.outer(np.diag(c), np.diag(c))
    got = disp.var(axis=0)
    assert abs(disp.mean()) < 0.02 * np.sqrt(var.mean())
    assert 0.97 < got.mean() / var.mean() < 1.03
    assert np.abs(got / var - 1).max() < 0.15
    # correlation 4 pixels apart along x, and along y, at the centre
    for (y, x), (y2, x2) in (((14, 12), (14, 16)), ((12, 14), (16, 14))):
        want = c[y, y2] * c[x, x2] / np.sqrt(c[y, y] * c[y2, y2] * c[x, x] * c[x2, x2])
        got_r = np.corrcoef(disp[:, y, x], disp[:, y2, x2])[0, 1]
        assert abs(got_r - want) < 0.05, (got_r, want)


def test_elastic_displacement_grows_with_alpha():
    images = digits(32)
    small = Augmenter(AugmentConfig(elastic_alpha=5))(images, np.random.default_rng(0))
    large = Augmenter(AugmentConfig(elastic_alpha=60))(images, np.random.default_rng(0))
    diff = lambda a: np.abs(a.astype(np.int32) - images).mean()  # noqa: E731
    assert 0 < diff(small) < diff(large)


def test_mosaic_and_figure(tmp_path):
    images = digits(3)
    mosaic = augmentation_mosaic(images, EVERYTHING, versions=4, seed=0)
    assert mosaic.shape == (3 * 29 - 1, 5 * 29 - 1)
    assert np.array_equal(mosaic[:28, :28], images[0].reshape(28, 28))  # first column: the originals
    assert np.isnan(mosaic[28, 0]) and np.isnan(mosaic[0, 28])
    assert np.array_equal(mosaic, augmentation_mosaic(images, EVERYTHING, versions=4, seed=0), equal_nan=True)
    p1 = plot_augmentation(images, EVERYTHING, tmp_path / "a.png", versions=4)
    p2 = plot_augmentation(images, EVERYTHING, tmp_path / "b.png", versions=4)
    assert p1.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert p1.read_bytes() == p2.read_bytes(), "same inputs, same PNG bytes"
    with pytest.raises(ValueError, match="uint8"):
        augmentation_mosaic(images.astype(np.float64), EVERYTHING)


def test_plot_stage_figure_follows_the_train_stage_model(tmp_path):
    from pipeline.plotting.figures import make_augmentation_figure, model_augmentation
    from pipeline.training import TrainParams, build_model, save_trained

    images = digits(20)
    labels = (np.arange(20) % 10).astype(np.uint8)
    save_npz(tmp_path / "test.npz", {"images": images, "labels": labels})
    data = {"X_train": images, "y_train": labels}
    for name, cfg in (("off", TrainParams()), ("on", TrainParams(augment_shift=2, augment_elastic_alpha=30))):
        save_trained(tmp_path / f"{name}.npz", build_model(cfg, images), cfg, data, 0.5)
    assert model_augmentation(tmp_path / "off.npz") is None
    config = model_augmentation(tmp_path / "on.npz")
    assert config == AugmentConfig(shift=2, elastic_alpha=30.0)
    out = make_augmentation_figure(config, tmp_path / "test.npz", tmp_path / "on.png")
    assert out == tmp_path / "on.png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the figure depends only on the config and the images, not on where they were read from
    again = plot_model_augmentation(config, images, labels, tmp_path / "again.png")
    assert again.read_bytes() == out.read_bytes()


def test_augment_config_of_a_recorded_config():
    assert augment_config_of({"hidden_dim": 25}) == AugmentConfig()
    assert augment_config_of({"augment_shift": 2, "augment_rotation": 5.0}) == AugmentConfig(shift=2, rotation=5.0)
    with pytest.raises(ValueError, match="model.npz: train_config: bad augmentation"):
        augment_config_of({"augment_scale": 2.0}, "model.npz: train_config")


def reference_augment(images: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """The distortions written out plainly, in float64: the same draws in the same order, then each output
    pixel's source position (centre + M @ offset - shift + elastic field A_y Z A_x.T) and a bilinear read
    with zeros outside the image, pixel by pixel."""
    n, h, w = images.shape[0], 28, 28
    theta = np.deg2rad(rng.uniform(-config.rotation, config.rotation, n)) if config.rotation else np.zeros(n)
    zoom = rng.uniform(1 - config.scale, 1 + config.scale, n) if config.scale else np.ones(n)
    shear = np.tan(np.deg2rad(rng.uniform(-config.shear, config.shear, n))) if config.shear else np.zeros(n)
    t = rng.integers(-config.shift, config.shift, size=(2, n), endpoint=True) if config.shift else np.zeros((2, n))
    field = np.zeros((2 * n, h, w))
    if config.elastic_alpha:
        a_y = smooth_noise_factor(h, config.elastic_sigma).astype(np.float64)
        a_x = smooth_noise_factor(w, config.elastic_sigma).astype(np.float64)
        k_y, k_x = a_y.shape[1], a_x.shape[1]
        noise = np.frombuffer(rng.bytes(k_x * 2 * n * k_y), dtype=np.uint8).reshape(k_x, 2 * n, k_y)
        noise = config.elastic_alpha * ((noise + 0.5) / 128 - 1)
        field = np.einsum("yj,inj,xi->nyx", a_y, noise, a_x)
    src = images.reshape(n, h, w).astype(np.float64)
    out = np.zeros((n, h, w))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    for i in range(n):
        c, s = np.cos(theta[i]) / zoom[i], np.sin(theta[i]) / zoom[i]
        a, b, cc, d = c, c * shear[i] - s, s, s * shear[i] + c
        for y in range(h):
            for x in range(w):
                sx = cx + a * (x - cx) + b * (y - cy) - t[0, i] + field[i, y, x]
                sy = cy + cc * (x - cx) + d * (y - cy) - t[1, i] + field[n + i, y, x]
                x0, y0 = int(np.floor(sx)), int(np.floor(sy))
                fx, fy = sx - x0, sy - y0
                v = [[src[i, yy, xx] if 0 <= yy < h and 0 <= xx < w else 0.0 for xx in (x0, x0 + 1)]
                     for yy in (y0, y0 + 1)]
                top = v[0][0] + fx * (v[0][1] - v[0][0])
                bot = v[1][0] + fx * (v[1][1] - v[1][0])
                out[i, y, x] = top + fy * (bot - top)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(images.shape)


@pytest.mark.parametrize("config", [EVERYTHING, AugmentConfig(rotation=20, shift=2), AugmentConfig(elastic_alpha=34)],
                         ids=["everything", "affine", "elastic"])
def test_agrees_with_a_plain_float64_resampler_within_one_grey_level(config):
    # The batched float32 arithmetic (one GEMM for the whole field, index arithmetic in float32) rounds
    # differently from float64: a pixel may differ by one grey level, and only rarely.
    images = digits(6, seed=3)
    got = Augmenter(config)(images, np.random.default_rng(11)).astype(int)
    want = reference_augment(images, config, np.random.default_rng(11)).astype(int)
    diff = np.abs(got - want)
    assert diff.max() <= 1
    assert (diff > 0).mean() < 0.002
    assert not np.array_equal(got, images)


def test_whole_pixel_shifts_are_exact_through_the_resampler():
    # A rotation of 1e-30 degrees sends the batch through the bilinear path, with the same draws as a shift.
    images = digits(32, seed=4)
    out = Augmenter(AugmentConfig(shift=3, rotation=1e-30))(images, np.random.default_rng(2)).reshape(-1, 28, 28)
    rng = np.random.default_rng(2)
    rng.uniform(-1e-30, 1e-30, 32)
    t = rng.integers(-3, 3, size=(2, 32, 1), endpoint=True)
    padded = np.pad(images.reshape(-1, 28, 28), ((0, 0), (3, 3), (3, 3)))
    for i, img in enumerate(out):
        tx, ty = int(t[0, i, 0]), int(t[1, i, 0])
        assert np.array_equal(img, padded[i, 3 - ty:31 - ty, 3 - tx:31 - tx]), (i, tx, ty)


@pytest.mark.parametrize("make", [np.random.default_rng, lambda s: np.random.Generator(np.random.PCG64DXSM(s)),
                                  lambda s: np.random.Generator(np.random.MT19937(s))], ids=["pcg64", "dxsm", "mt"])
@pytest.mark.parametrize("before", ["nothing", "floats", "a half-used 32-bit output"])
def test_random_bytes_are_rng_bytes_and_leave_the_same_state(make, before):
    a, b = make(7), make(7)
    for rng in (a, b):
        if before == "floats":
            rng.uniform(size=3)
        elif before == "a half-used 32-bit output":
            rng.integers(0, 10, size=3, dtype=np.uint32)
    got = random_bytes(a, 4096)
    assert got.dtype == np.uint8 and got.tobytes() == b.bytes(4096)
    assert np.array_equal(a.uniform(size=4), b.uniform(size=4))
    assert np.array_equal(a.integers(0, 1000, size=5, dtype=np.uint32), b.integers(0, 1000, size=5, dtype=np.uint32))
