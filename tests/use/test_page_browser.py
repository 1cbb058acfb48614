"""The drawing page in a real headless chromium: strokes drawn with the mouse (pointer events) get the
digit's answer, ten bars and the 28x28 input shown. Skipped, saying how to install it, without chromium."""
from __future__ import annotations

import io
import math
import threading

import numpy as np
import pytest
from PIL import Image

from pipeline.persistence import load_model
from pipeline.use.server import DrawingServer
from tests.use.browser import INSTALL_HINT, Browser, chromium_path

pytestmark = pytest.mark.skipif(chromium_path() is None, reason=INSTALL_HINT)

# Strokes on the 280x280 pad, in pad pixels.
DIGITS = {
    "1": [[(150, 50), (145, 120), (140, 180), (135, 235)]],
    "0": [[(140 + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 90 * math.cos(t / 20 * 2 * math.pi))
           for t in range(21)]],
    "7": [[(80, 60), (140, 60), (200, 60), (175, 120), (150, 180), (130, 240)]],
}


@pytest.fixture(scope="module")
def page(digit_model):
    server = DrawingServer(load_model(digit_model)[0], port=0)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    browser = Browser(server.url)
    try:
        browser.wait_for("document.body && document.body.dataset.state === 'empty'")
        yield browser
    finally:
        browser.close()
        server.shutdown()
        server.server_close()


def draw(page: Browser, strokes) -> dict:
    page.js("document.getElementById('clear').click()")
    left, top = page.js("(r => [r.left, r.top])(document.getElementById('pad').getBoundingClientRect())")
    for stroke in strokes:
        page.stroke([(left + x, top + y) for x, y in stroke])
    page.wait_for("document.body.dataset.state === 'answered'")
    return page.js("""({answer: document.getElementById('answer').textContent,
        shown: [...Array(10).keys()].map(d => Number(document.getElementById('p' + d).textContent)),
        widths: [...Array(10).keys()].map(d => parseFloat(document.getElementById('fill' + d).style.width)),
        seen: Array.from(document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data)
                   .filter((_, i) => i % 4 === 0)})""")


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawn_strokes_get_their_digit(page, digit):
    shown = draw(page, DIGITS[digit])
    assert shown["answer"] == digit
    assert abs(sum(shown["shown"]) - 1) < 0.01 and max(shown["shown"]) == shown["shown"][int(digit)]
    assert np.argmax(shown["widths"]) == int(digit)
    seen = np.array(shown["seen"], dtype=np.uint8).reshape(28, 28)
    rows, cols = np.nonzero(seen)
    assert seen.max() == 255 and max(np.ptp(rows), np.ptp(cols)) + 1 == 20  # MNIST's box, drawn as the model saw it


def test_the_answer_updates_while_drawing(page):
    page.js("document.getElementById('clear').click()")
    assert page.js("document.getElementById('answer').textContent") == ""
    left, top = page.js("(r => [r.left, r.top])(document.getElementById('pad').getBoundingClientRect())")
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=left + 150, y=top + 50, button="left", buttons=1,
              clickCount=1)
    page.call("Input.dispatchMouseEvent", type="mouseMoved", x=left + 140, y=top + 200, button="left", buttons=1)
    page.wait_for("document.body.dataset.state === 'answered'")  # before the button is released
    assert page.js("document.getElementById('answer').textContent") != ""
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=left + 140, y=top + 200, button="left", buttons=0,
              clickCount=1)


def test_a_screenshot_shows_the_page(page, tmp_path):
    draw(page, DIGITS["7"])
    shot = Image.open(io.BytesIO(page.screenshot()))
    assert shot.size == (1000, 520)
    pixels = np.asarray(shot.convert("RGB"))
    assert (pixels == 255).all(axis=2).mean() > 0.3 and (pixels == 0).all(axis=2).mean() > 0.05  # page and pad
