"""pipeline.use.prepare: any picture of a digit becomes the 28x28 input MNIST's digits were."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.use.images import bbox_side, centre_of_mass, encode, enlarge, on_paper, png_claiming
from pipeline.persistence import load_model
from pipeline.use import prepare as prep
from pipeline.use.predictor import probabilities
from pipeline.use.prepare import ImageInputError, decode_image, load_image, prepare


def assert_mnist_shaped(image: np.ndarray) -> None:
    """What every prepared digit is: 28x28 uint8, ink up to 255, box side 20, centre of mass at (14, 14)."""
    assert image.shape == (28, 28) and image.dtype == np.uint8 and image.max() == 255
    assert bbox_side(image) == 20
    cy, cx = centre_of_mass(image)
    assert abs(cy - 14) <= 0.5 + 1e-9 and abs(cx - 14) <= 0.5 + 1e-9, (cy, cx)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1])


def test_mnist_test_digits_pass_through_unchanged_up_to_rounding(mnist_test):
    images, _ = mnist_test
    diffs = np.array([np.abs(prepare(img).astype(int) - img).max() for img in images])
    # A few MNIST digits touch the field's edge (their box is cut below 20 pixels): those are rescaled.
    assert np.mean(diffs <= 1) >= 0.999, np.unique(diffs, return_counts=True)
    assert np.mean(diffs == 0) >= 0.85


def test_a_shifted_digit_is_moved_back(mnist_test):
    digit = mnist_test[0][0]
    shifted = np.zeros((28, 28), dtype=np.uint8)
    shifted[:-3, 4:] = digit[3:, :-4]  # up 3, right 4 (only background is cut)
    assert not np.array_equal(shifted, digit)
    np.testing.assert_array_equal(prepare(shifted), prepare(digit))


@pytest.mark.parametrize("side", [56, 140, 400])
def test_a_scaled_up_digit_comes_back_close_to_the_original(mnist_test, side):
    digit = mnist_test[0][1]
    out = prepare(enlarge(digit, side))
    assert_mnist_shaped(out)
    assert similarity(out, digit) > 0.9


def test_dark_ink_on_light_paper_is_inverted(mnist_test):
    big = enlarge(mnist_test[0][2], 120)
    np.testing.assert_array_equal(prepare(255 - big), prepare(big))


def test_a_small_digit_anywhere_in_a_large_picture_is_found(mnist_test):
    digit = mnist_test[0][3]
    out = prepare(on_paper(digit, 300, 60, 200, 20))
    assert_mnist_shaped(out)
    assert similarity(out, digit) > 0.9


def test_a_rotated_digit_is_boxed_and_centred(mnist_test):
    big = Image.fromarray(enlarge(mnist_test[0][4], 112))
    out = prepare(np.asarray(big.rotate(30, resample=Image.Resampling.BICUBIC, expand=True)))
    assert_mnist_shaped(out)


def test_coloured_ink_on_coloured_paper(mnist_test):
    digit = mnist_test[0][5]
    ink = enlarge(digit, 100)[..., None] / 255.0
    paper, pen = np.array([250, 235, 150]), np.array([20, 40, 160])  # blue pen on yellow paper
    rgb = np.rint(paper * (1 - ink) + pen * ink).astype(np.uint8)
    out = prepare(decode_image(encode(rgb, "PNG"), "colour.png"))
    assert_mnist_shaped(out)
    assert similarity(out, digit) > 0.9


def test_a_tiny_picture_is_scaled_up(mnist_test):
    digit = mnist_test[0][6]
    tiny = np.asarray(Image.fromarray(digit).resize((9, 9), Image.Resampling.BOX))
    out = prepare(tiny)
    assert_mnist_shaped(out)
    assert similarity(out, digit) > 0.7


def test_transparent_background_counts_as_paper(mnist_test):
    alpha = enlarge(mnist_test[0][7], 84)
    rgba = np.zeros((84, 84, 4), dtype=np.uint8)
    rgba[..., 3] = alpha  # black ink whose opacity is the stroke, on nothing
    out = prepare(decode_image(encode(rgba, "PNG"), "ink.png"))
    assert_mnist_shaped(out)
    assert similarity(out, mnist_test[0][7]) > 0.9


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF"])
def test_each_format_decodes_to_the_same_digit(mnist_test, fmt):
    paper = on_paper(mnist_test[0][8], 100, 80, 10, 10)
    out = prepare(decode_image(encode(paper, fmt), f"digit.{fmt.lower()}"))
    assert similarity(out, prepare(paper)) > 0.97


@pytest.mark.parametrize("grey", [0, 128, 255])
def test_a_uniform_picture_has_no_ink(grey):
    with pytest.raises(ImageInputError, match=r"^blank.png: no ink: the image is uniform or blank"):
        prepare(np.full((40, 30), grey, dtype=np.uint8), "blank.png")


def test_faint_noise_is_no_ink():
    noise = np.random.default_rng(0).integers(100, 110, (50, 50))
    with pytest.raises(ImageInputError, match=r"noise.png: no ink"):
        prepare(noise, "noise.png")


def test_not_an_image():
    with pytest.raises(ImageInputError, match=r"^notes.png: not an image \(PNG, JPEG"):
        decode_image(b"just some text\n", "notes.png")


def test_a_truncated_image(mnist_test):
    data = encode(on_paper(mnist_test[0][0], 200, 150, 20, 20), "JPEG")
    with pytest.raises(ImageInputError, match=r"^cut.jpg: truncated or corrupt image"):
        decode_image(data[: len(data) // 2], "cut.jpg")


def test_an_image_over_the_pixel_cap_is_refused_before_decoding():
    with pytest.raises(ImageInputError, match=r"^huge.png: 9000x9000 pixels is over the 64000000 pixel limit"):
        decode_image(png_claiming(9_000, 9_000), "huge.png")


def test_a_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageInputError, match=r"^bomb.png: refused as a decompression bomb \(Image size"):
        decode_image(png_claiming(100_000, 100_000), "bomb.png")


def test_a_file_over_the_byte_cap_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    path.write_bytes(encode(np.zeros((64, 64), dtype=np.uint8)))
    monkeypatch.setattr(prep, "MAX_FILE_BYTES", 10)
    with pytest.raises(ImageInputError, match=r"big.png: \d+ bytes is over the 10 byte limit for an image"):
        load_image(path)


def test_an_unreadable_path(tmp_path):
    with pytest.raises(ImageInputError, match=r"gone.png: cannot read it \(No such file or directory\)"):
        load_image(tmp_path / "gone.png")


def test_preparing_as_mnist_did_is_what_makes_photos_work(mnist_test, digit_model):
    """Digits drawn dark on a 200x200 white page at random sizes and places: resizing the whole page
    to 28x28 loses most of them; preparing them as MNIST's were keeps most."""
    images, labels = mnist_test
    model, _ = load_model(digit_model)
    rng = np.random.default_rng(0)
    naive, prepared = [], []
    for digit in images[:300]:
        side = int(rng.integers(60, 161))
        top, left = rng.integers(0, 200 - side + 1, 2)
        page = on_paper(digit, 200, side, top, left)
        naive.append(255 - np.asarray(Image.fromarray(page).resize((28, 28), Image.Resampling.LANCZOS)))
        prepared.append(prepare(page))
    acc = {name: float(np.mean(probabilities(model, np.stack(batch)).argmax(1) == labels[:300]))
           for name, batch in (("naive", naive), ("prepared", prepared))}
    assert acc["prepared"] >= 0.85 and acc["naive"] <= 0.4, acc
