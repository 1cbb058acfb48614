"""python -m pipeline.predict: a digit per image, file, folder or .npz/IDX; one line per bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipeline.data.idx import write_idx
from pipeline.nn.npz import save_npz
from tests.use.images import encode, on_paper, png_claiming

ROOT = Path(__file__).resolve().parents[2]


def predict(*args: str, cwd: Path = ROOT, traceback: bool = False) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PIPELINE_TRACEBACK"}
    if traceback:
        env["PIPELINE_TRACEBACK"] = "1"
    return subprocess.run([sys.executable, "-m", "pipeline.predict", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, mnist_test) -> tuple[Path, dict[str, int]]:
    """A folder of pictures of the first 8 test digits in several formats and styles; {file name: label}."""
    images, labels = mnist_test
    folder = tmp_path_factory.mktemp("photos")
    labelled = {}
    styles = [("PNG", False), ("JPEG", False), ("BMP", True), ("GIF", False)]
    for i in range(8):
        fmt, light_on_dark = styles[i % len(styles)]
        page = on_paper(images[i], 150 + 10 * i, 100, 5 * i, 10)
        name = f"d{i}.{fmt.lower()}"
        (folder / name).write_bytes(encode(255 - page if light_on_dark else page, fmt))
        labelled[name] = int(labels[i])
    return folder, labelled


def test_a_folder_prints_path_digit_probability_per_image(digit_model, photos):
    folder, labelled = photos
    proc = predict("--model", str(digit_model), str(folder))
    assert proc.returncode == 0, proc.stderr
    lines = [line.split("  ") for line in proc.stdout.splitlines()]
    assert [Path(p).name for p, _, _ in lines] == sorted(labelled)
    assert sum(int(d) == labelled[Path(p).name] for p, d, _ in lines) >= 7
    assert all(0.1 <= float(prob) <= 1.0 and len(prob) == 6 for _, _, prob in lines)


def test_json_gives_ten_probabilities_summing_to_one(digit_model, photos):
    folder, labelled = photos
    proc = predict("--model", str(digit_model), "--json", str(folder / "d0.png"), str(folder / "d1.jpeg"))
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout)
    assert [a["path"] for a in answers] == [str(folder / "d0.png"), str(folder / "d1.jpeg")]
    for a in answers:
        assert len(a["probabilities"]) == 10 and abs(sum(a["probabilities"]) - 1) < 1e-9
        assert a["digit"] == int(np.argmax(a["probabilities"])) == labelled[Path(a["path"]).name]


def test_npz_and_idx_files_of_mnist_images(digit_model, mnist_test, tmp_path):
    images, labels = mnist_test
    save_npz(tmp_path / "some.npz", {"images": images[:20].reshape(20, 784), "labels": labels[:20]})
    write_idx(tmp_path / "some-idx3-ubyte", images[20:30])
    proc = predict("--model", str(digit_model), "--json", str(tmp_path / "some.npz"), str(tmp_path / "some-idx3-ubyte"))
    assert proc.returncode == 0, proc.stderr
    answers = json.loads(proc.stdout)
    assert [a["path"] for a in answers][:2] == [f"{tmp_path / 'some.npz'}[0]", f"{tmp_path / 'some.npz'}[1]"]
    assert answers[-1]["path"] == f"{tmp_path / 'some-idx3-ubyte'}[9]"
    assert np.mean([a["digit"] for a in answers] == labels[:30]) >= 0.85


def test_show_input_saves_the_inputs_the_model_saw(digit_model, photos, tmp_path):
    folder, labelled = photos
    out = tmp_path / "seen.png"
    proc = predict("--model", str(digit_model), "--show-input", str(out), str(folder))
    assert proc.returncode == 0, proc.stderr
    grid = np.asarray(Image.open(out))
    assert grid.shape == (2 + 28 * 4 + 2, 2 + 8 * (28 * 4 + 2))  # one row of eight 4x-enlarged tiles
    tile = grid[2:2 + 112:4, 2:2 + 112:4]
    assert tile.max() == 255 and tile[0].max() == 0  # a light digit on black, like MNIST's


def test_bad_inputs_get_one_line_each_and_the_others_are_still_predicted(digit_model, photos, tmp_path):
    folder, _ = photos
    bad = {
        "notes.png": b"not an image at all",
        "cut.jpg": (folder / "d1.jpeg").read_bytes()[:300],
        "blank.png": encode(np.full((50, 50), 240, dtype=np.uint8)),
        "bomb.png": png_claiming(100_000, 100_000),
        "huge.png": png_claiming(9_000, 9_000),
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "empty").mkdir()
    args = [str(folder / "d0.png"), *(str(tmp_path / n) for n in bad), str(tmp_path / "empty"),
            str(tmp_path / "missing.png"), str(folder / "d2.bmp")]
    proc = predict("--model", str(digit_model), *args)
    assert proc.returncode == 1
    assert [Path(line.split("  ")[0]).name for line in proc.stdout.splitlines()] == ["d0.png", "d2.bmp"]
    errors = proc.stderr.splitlines()
    expected = [r"notes.png: not an image \(PNG, JPEG", r"cut.jpg: truncated or corrupt image",
                r"blank.png: no ink: the image is uniform or blank", r"bomb.png: refused as a decompression bomb",
                r"huge.png: 9000x9000 pixels is over the 64000000 pixel limit",
                r"empty: a folder with no images \(expected files ending in .png", r"missing.png: no such file or folder",
                r"7 of 9 inputs could not be predicted"]
    assert len(errors) == len(expected), proc.stderr
    for line, pattern in zip(errors, expected):
        assert line.startswith("predict: error: ") and __import__("re").search(pattern, line), (line, pattern)
    assert "Traceback" not in proc.stderr


def test_pipeline_traceback_shows_the_traceback(digit_model, tmp_path):
    (tmp_path / "notes.png").write_bytes(b"text")
    proc = predict("--model", str(digit_model), str(tmp_path / "notes.png"), traceback=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "InputsFailed" in proc.stderr


def test_a_bad_model_file_is_one_line(tmp_path, photos):
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 not really")
    proc = predict("--model", str(tmp_path / "model.npz"), str(photos[0]))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"predict: error: {tmp_path / 'model.npz'}: not a readable .npz archive")


def test_an_npz_of_the_wrong_shape_names_the_file_and_the_shape(digit_model, tmp_path):
    save_npz(tmp_path / "odd.npz", {"images": np.zeros((3, 10, 10), dtype=np.uint8)})
    proc = predict("--model", str(digit_model), str(tmp_path / "odd.npz"))
    assert proc.returncode == 1
    assert f"predict: error: {tmp_path / 'odd.npz'}: images are uint8 (3, 10, 10); expected uint8 images of 28x28" \
        in proc.stderr
