"""pipeline.nn.preprocess.Preprocessor: uint8 images -> float inputs."""
from __future__ import annotations

import numpy as np
import pytest

from pipeline.nn.preprocess import MODES, Preprocessor

PIXELS = np.array([[0, 1, 128, 255], [255, 254, 2, 0]], dtype=np.uint8)


@pytest.fixture
def train_images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 12), dtype=np.uint8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_raw_keeps_pixel_values(dtype):
    out = Preprocessor("raw").transform(PIXELS, dtype=dtype)
    assert out.dtype == dtype
    assert out.shape == PIXELS.shape
    np.testing.assert_array_equal(out, PIXELS.astype(dtype))
    assert out.max() == 255.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_scales_to_0_1(dtype):
    out = Preprocessor("unit").transform(PIXELS, dtype=dtype)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, PIXELS / 255.0, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert out[0, 3] == pytest.approx(1.0, abs=1e-7)
    assert out[0, 0] == 0.0
    assert 0.0 <= out.min() and out.max() <= 1.0 + 1e-7


def test_fit_unit_has_no_mean(train_images):
    for mode in ("raw", "unit"):
        p = Preprocessor.fit(mode, train_images)
        assert p.mode == mode and p.mean is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_centered_subtracts_training_mean(train_images, dtype):
    p = Preprocessor.fit("unit_centered", train_images)
    assert p.mean.shape == (train_images.shape[1],)
    np.testing.assert_allclose(p.mean, train_images.mean(axis=0) / 255.0, rtol=1e-12)
    out = p.transform(train_images, dtype=dtype)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(out, train_images / 255.0 - p.mean, rtol=1e-5, atol=1e-6)
    # other images are centred with the *training* mean, not their own
    other = np.full((3, train_images.shape[1]), 255, dtype=np.uint8)
    np.testing.assert_allclose(p.transform(other, dtype=dtype), 1.0 - p.mean[None, :].repeat(3, 0),
                               rtol=1e-5, atol=1e-6)


def test_unit_centered_needs_mean():
    with pytest.raises(ValueError, match="unit_centered"):
        Preprocessor("unit_centered")


def test_unknown_mode_rejected():
    assert set(MODES) == {"raw", "unit", "unit_centered"}
    with pytest.raises(ValueError, match="zscore"):
        Preprocessor("zscore")


@pytest.mark.parametrize("mode", ["raw", "unit", "unit_centered"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_buffer_is_used(train_images, mode, dtype):
    p = Preprocessor.fit(mode, train_images)
    expected = p.transform(train_images[:5], dtype=dtype)
    buf = np.full((5, train_images.shape[1]), np.nan, dtype=dtype)
    out = p.transform(train_images[:5], out=buf)
    assert out is buf
    np.testing.assert_array_equal(buf, expected)
    # reused for another batch, it holds the new batch
    out2 = p.transform(train_images[5:10], out=buf)
    assert out2 is buf
    np.testing.assert_array_equal(buf, p.transform(train_images[5:10], dtype=dtype))


def test_transform_does_not_modify_images(train_images):
    before = train_images.copy()
    Preprocessor.fit("unit_centered", train_images).transform(train_images)
    np.testing.assert_array_equal(train_images, before)


def test_describe():
    assert Preprocessor("raw").describe() == {"mode": "raw", "has_mean": False}
    p = Preprocessor.fit("unit_centered", PIXELS)
    assert p.describe() == {"mode": "unit_centered", "has_mean": True}
